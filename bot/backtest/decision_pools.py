"""Decision-time pools: what our daemon saw when it decided, from the journal, for backtests on real rounds.

Round histories record *final* pools; the daemon decides a few seconds before the lock and late bets still move them.
The journal keeps each intent's decision context (``intents.decision``: ``bull_pool_wei``, ``bear_pool_wei``,
``seconds_to_lock``). ``export_decision_pools`` writes them (``rounds export --decision-pools``) as a CSV
``market, epoch, decision_bull_wei, decision_bear_wei, seconds_to_lock``; ``with_decision_pools`` joins them to a
rounds frame by epoch, so the backtest decides on them where known (settling on the final pools, as the contract
does); ``pool_gap`` measures the final-vs-decision-time gap on the matched rounds.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.backtest.exact import to_float
from bot.errors import InputError

COLUMNS = ("market", "epoch", "decision_bull_wei", "decision_bear_wei", "seconds_to_lock")


class DecisionPoolsError(InputError):
    """A decision-pools file could not be read or matched."""


def export_decision_pools(session: Any, path: str | Path, market: str | None = None) -> int:
    """Write every journaled decision's pools (optionally of one market); returns the number of rows."""
    from sqlalchemy import select

    from bot.store.journal import Intent

    query = select(Intent).order_by(Intent.market, Intent.epoch)
    if market:
        query = query.where(Intent.market == market)
    rows = 0
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for intent in session.scalars(query):
            try:
                ctx = json.loads(intent.decision or "{}")
                bull, bear = int(ctx["bull_pool_wei"]), int(ctx["bear_pool_wei"])
            except (ValueError, KeyError, TypeError):
                continue  # a manual bet or an old row without pools
            writer.writerow([intent.market, intent.epoch, bull, bear, ctx.get("seconds_to_lock", "")])
            rows += 1
    return rows


def load_decision_pools(path: str | Path, market: str | None = None) -> pd.DataFrame:
    """``epoch, decision_bull_wei, decision_bear_wei`` (float wei: strategies read floats) from an export."""
    file = Path(path)
    if not file.is_file():
        raise DecisionPoolsError(f"decision-pools file not found: {file}")
    frame = pd.read_csv(file, dtype={"market": str})
    missing = [c for c in COLUMNS[:4] if c not in frame.columns]
    if missing:
        raise DecisionPoolsError(f"{file}: missing column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})")
    if market is not None:
        frame = frame[frame["market"] == market]
    if frame["epoch"].duplicated().any():
        dupes = frame.loc[frame["epoch"].duplicated(), "epoch"].head(5).tolist()
        raise DecisionPoolsError(f"{file}: epochs of several markets or repeated ({dupes}): pass the market")
    out = frame[["epoch", "decision_bull_wei", "decision_bear_wei"]].astype(
        {"epoch": np.int64, "decision_bull_wei": np.float64, "decision_bear_wei": np.float64}
    )
    return out.reset_index(drop=True)


def with_decision_pools(rounds: pd.DataFrame, pools: pd.DataFrame) -> pd.DataFrame:
    """``rounds`` plus ``decision_bull_wei``/``decision_bear_wei`` (NaN where the journal has none)."""
    merged = rounds.merge(pools, on="epoch", how="left", validate="one_to_one")
    merged.attrs = dict(rounds.attrs)
    return merged


@dataclass(frozen=True, slots=True)
class PoolGap:
    """Final vs decision-time pools over the rounds both are known for."""

    matched: int
    median_total_ratio: float | None  # final total / decision-time total
    p90_total_ratio: float | None
    side_flips: float | None  # share of rounds whose bigger pool at decision time was not the bigger final pool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if not self.matched:
            return "no round has journaled decision-time pools: decisions saw final pools"
        return (
            f"decision-time pools on {self.matched} round(s): final pools were {self.median_total_ratio:.2f}x the "
            f"decision-time ones (median; p90 {self.p90_total_ratio:.2f}x) and the bigger side flipped in "
            f"{100 * (self.side_flips or 0):.1f} %"
        )


def pool_gap(rounds: pd.DataFrame) -> PoolGap:
    if "decision_bull_wei" not in rounds.columns:
        return PoolGap(0, None, None, None)
    known = rounds["decision_bull_wei"].notna().to_numpy()
    if not known.any():
        return PoolGap(0, None, None, None)
    fb = to_float(rounds["bull_wei"].to_numpy()[known])
    fr = to_float(rounds["bear_wei"].to_numpy()[known])
    db = rounds["decision_bull_wei"].to_numpy(dtype=np.float64)[known]
    dr = rounds["decision_bear_wei"].to_numpy(dtype=np.float64)[known]
    dt = db + dr
    ratio = np.divide(fb + fr, dt, out=np.full(len(dt), np.nan), where=dt > 0)
    ratio = ratio[np.isfinite(ratio)]
    flips = np.sign(db - dr) != np.sign(fb - fr)
    return PoolGap(
        int(known.sum()),
        float(np.median(ratio)) if len(ratio) else None,
        float(np.percentile(ratio, 90)) if len(ratio) else None,
        float(flips.mean()),
    )
