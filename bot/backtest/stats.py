"""Streaming statistics over settled bets, fed chunk by chunk in time order.

Settlement feeds this while each chunk is still in the CPU cache, so the metrics of a million-round backtest cost a
few milliseconds; ``bot.backtest.metrics`` turns the result into the report's figures (and feeds a fresh accumulator
from a bets frame when a run did not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bot.backtest.market import HOUSE, LOST, WON


@dataclass(slots=True)
class BetStats:
    """Running sums, counts and the equity peak; per-bet underwater/losing flags for the run lengths."""

    start_equity: float
    counts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(8, dtype=np.int64))  # side * 4 + result
    sum_pnl: float = 0.0
    sum_abs_pnl: float = 0.0
    sum_r: float = 0.0
    sum_r2: float = 0.0
    sum_neg_r2: float = 0.0
    fees: float = 0.0
    peak: float = 0.0
    max_drawdown: float = 0.0
    max_drawdown_frac: float = 0.0
    n: int = 0
    _under: list[npt.NDArray[np.bool_]] = field(default_factory=list)
    _losing: list[npt.NDArray[np.bool_]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.peak = self.start_equity

    def update(
        self,
        side: npt.NDArray[np.int8],
        result: npt.NDArray[np.int8],
        stake_f: npt.NDArray[np.float64],
        pnl_f: npt.NDArray[np.float64],
        equity: npt.NDArray[np.float64],
        fees: float,
    ) -> None:
        """Add the next bets (in time order): side, result code, stake and PnL (float), equity after each, and the
        total fee share of these bets."""
        k = len(side)
        if k == 0:
            return
        bear = side.view(np.bool_)  # sides are 0 (bull) / 1 (bear)
        for code in range(4):  # count_nonzero on masks is ~10x faster than bincount on int8 here
            hit = result == code
            on_bear = int(np.count_nonzero(hit & bear))
            self.counts[code] += int(np.count_nonzero(hit)) - on_bear
            self.counts[4 + code] += on_bear
        self.sum_pnl += float(pnl_f.sum())
        self.sum_abs_pnl += float(np.abs(pnl_f).sum())
        r = pnl_f / stake_f
        self.sum_r += float(r.sum())
        sq = r * r  # not np.dot: BLAS may start threads for this, which is slow on a small or busy machine
        self.sum_r2 += float(sq.sum())
        np.minimum(r, 0.0, out=r)
        np.multiply(r, r, out=sq)
        self.sum_neg_r2 += float(sq.sum())
        self.fees += fees
        peak = np.maximum.accumulate(equity)
        np.maximum(peak, self.peak, out=peak)
        self.peak = float(peak[-1])
        dd = peak - equity
        self.max_drawdown = max(self.max_drawdown, float(dd.max()))
        if self.start_equity > 0:  # the running peak never falls below the start
            self.max_drawdown_frac = max(self.max_drawdown_frac, float((dd / peak).max()))
        else:
            self.max_drawdown_frac = 1.0
        self._under.append(dd > 0)
        self._losing.append((result.view(np.uint8) - np.uint8(LOST)) <= np.uint8(HOUSE - LOST))
        self.n += k

    @property
    def underwater(self) -> npt.NDArray[np.bool_]:
        return np.concatenate(self._under) if self._under else np.zeros(0, dtype=bool)

    @property
    def losing(self) -> npt.NDArray[np.bool_]:
        return np.concatenate(self._losing) if self._losing else np.zeros(0, dtype=bool)


def stats_from_bets(bets: object, start_equity: float, fee_bp: int, chunk: int = 16_384) -> BetStats:
    """Feed a ``BetStats`` from a bets frame (for runs whose settlement did not)."""
    import pandas as pd

    from bot.backtest.exact import to_float

    assert isinstance(bets, pd.DataFrame)
    stats = BetStats(start_equity)
    side = bets["side"].to_numpy(dtype=np.int8)
    result = bets["result"].to_numpy(dtype=np.int8)
    stake = to_float(bets["stake_wei"].to_numpy())
    pnl = to_float(bets["pnl_wei"].to_numpy())
    equity = bets["equity_wei"].to_numpy(dtype=np.float64)
    won_payout = np.where(result == WON, to_float(bets["payout_wei"].to_numpy()), 0.0)
    ratio = fee_share_ratio(fee_bp)
    for a in range(0, len(bets), chunk):
        b = a + chunk
        stats.update(side[a:b], result[a:b], stake[a:b], pnl[a:b], equity[a:b], float(won_payout[a:b].sum()) * ratio)
    return stats


def fee_share_ratio(fee_bp: int) -> float:
    """Our share of the treasury cut on a pot we won, per wei of payout: ``fee / (1 - fee)``."""
    return fee_bp / max(10_000 - fee_bp, 1)
