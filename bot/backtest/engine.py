"""Vectorised backtest engine: decision contexts -> ``Strategy.decide`` -> exact parimutuel settlement.

One pass over NumPy arrays for all rounds, with the same ``Strategy`` classes live trading uses.

Settlement, per bet (``bot.payout`` semantics, exact in wei — see ``bot.backtest.exact``):

- our stake joins our side's pool *before* settlement (we dilute our own payout): ``T' = bull + bear + b``;
- won: ``floor(b * (T' - floor(T' * fee / 10_000)) / (side pool + b))``; lost: 0;
- draw (``close == lock``, V2/V3): the house takes the pot, we get 0;
- a round never executed (``oracle_called`` false): the stake is refunded in full, no fee;
- gas: ``gas_per_bet_wei`` on every bet, plus ``gas_per_claim_wei`` on every win or refund (each is claimed).
AI dialect: Bull wins when the on-chain AI price and the close sit on the same side of the lock price (all equal counts
as right), else Bear; there are no draws.

Pools seen at decision time are the rounds' *final* pools (what history records) unless the rounds carry
decision-time pools (``decision_bull_wei``/``decision_bear_wei``, from the journal: ``bot.backtest.decision_pools``);
settlement always uses the final pools, as the contract does. Final pools at decision time are optimistic (late bets
still move them), stated in every report.

Risk limits: with ``EngineConfig.risk`` set, each block's proposed bets pass the daemon's risk limits in time order
(``bot.backtest.risk``, the same ``bot.engine.decision.apply_limits``); denied bets become skips ``risk <limit>``.

Bankroll and Kelly sizing: the bankroll path makes Kelly sizing sequential. By default every stake is sized from the
*initial* bankroll (``rebalance_every=None``): fully vectorised, and sizes do not compound. ``rebalance_every=K``
re-sizes from the bankroll reached at the start of each block of K rounds (a lag of at most K rounds, a Python loop
over blocks only). Either way the equity path is tracked exactly (wei totals) and, with ``stop_on_ruin``, betting stops
at the first bet the bankroll can no longer cover (stake + gas); later bets are marked skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.backtest.market import (
    BET_COLUMNS,
    REASON_RUINED,
    EngineConfig,
    PreparedRounds,
)
from bot.backtest.risk import RiskLedger, with_denials
from bot.backtest.settlement import settle
from bot.backtest.stats import BetStats
from strategies.base import (
    AI_DIRECTION_COL,
    BANKROLL_COL,
    BEAR_POOL_COL,
    BULL_POOL_COL,
    EPOCH_COL,
    FEE_BP_COL,
    MIN_BET_COL,
    P_UP_COL,
    PREDICTED_RETURN_COL,
    REASON_COL,
    SECONDS_TO_LOCK_COL,
    SIDE_COL,
    SIGNAL_AGE_COL,
    SKIP,
    STAKE_COL,
    Strategy,
)


@dataclass(slots=True)
class EngineResult:
    """What a run produced: contexts, decisions (one row per round), settled bets and the exact final bankroll."""

    context: pd.DataFrame
    decisions: pd.DataFrame
    bets: pd.DataFrame
    n_rounds: int
    bankroll_wei: int
    final_bankroll_wei: int
    ruined_epoch: int | None
    round_lock_ts: npt.NDArray[np.int64] = field(repr=False)
    staked_wei: int = 0
    payout_wei: int = 0
    gas_wei: int = 0
    stats: BetStats | None = field(default=None, repr=False)
    config: EngineConfig = field(default_factory=EngineConfig)

    @property
    def pnl_wei(self) -> int:
        return self.final_bankroll_wei - self.bankroll_wei


def build_context(
    prep: PreparedRounds, signals: pd.DataFrame | None, config: EngineConfig, bankroll_wei: int | None = None
) -> pd.DataFrame:
    """The decision-context frame (``strategies.base`` columns) for every prepared round."""
    n = prep.n
    nan = np.broadcast_to(np.float64(np.nan), (n,))

    def signal(col: str) -> np.ndarray:
        if signals is None or col not in signals.columns:
            return nan
        return np.asarray(signals[col].to_numpy(dtype=np.float64))

    bankroll = float(config.bankroll_wei if bankroll_wei is None else bankroll_wei)

    def const(value: float) -> np.ndarray:
        return np.broadcast_to(np.float64(value), (n,))  # read-only, stride 0: no memory for a constant column

    data = {
        EPOCH_COL: prep.epoch,
        P_UP_COL: signal(P_UP_COL),
        PREDICTED_RETURN_COL: signal(PREDICTED_RETURN_COL),
        SIGNAL_AGE_COL: signal(SIGNAL_AGE_COL),
        # exact int64: converted per chunk; decision-time pools where the journal has them (bot.backtest.decision_pools)
        BULL_POOL_COL: prep.seen_bull if prep.seen_bull is not None else prep.bull if prep.bull.dtype == np.int64 else prep.bull_f,
        BEAR_POOL_COL: prep.seen_bear if prep.seen_bear is not None else prep.bear if prep.bear.dtype == np.int64 else prep.bear_f,
        FEE_BP_COL: const(config.fee_bp),
        SECONDS_TO_LOCK_COL: const(config.lead_seconds),
        BANKROLL_COL: const(bankroll),
        MIN_BET_COL: const(config.min_bet_wei),
        AI_DIRECTION_COL: prep.ai_direction,
    }
    return pd.DataFrame(data, copy=False)


def run_engine(
    rounds: pd.DataFrame | PreparedRounds,
    signals: pd.DataFrame | None,
    strategy: Strategy,
    config: EngineConfig | None = None,
) -> EngineResult:
    """Decide and settle every round with ``strategy`` (see the module docstring for the accounting)."""
    cfg = config or EngineConfig()
    prep = rounds if isinstance(rounds, PreparedRounds) else PreparedRounds.from_frame(rounds, cfg.dialect)
    if signals is not None and len(signals) != prep.n:
        raise ValueError(f"signals have {len(signals)} rows for {prep.n} rounds (align them with align_inferences)")
    block = prep.n if cfg.rebalance_every is None else cfg.rebalance_every
    contexts: list[pd.DataFrame] = []
    decisions: list[pd.DataFrame] = []
    bets: list[pd.DataFrame] = []
    equity = cfg.bankroll_wei
    staked = paid = gas = 0
    ruined: int | None = None
    stats = BetStats(float(cfg.bankroll_wei))
    ledger = RiskLedger.for_run(cfg, prep) if cfg.risk is not None else None
    for start in range(0, max(prep.n, 1), max(block, 1)):
        stop = min(start + block, prep.n)
        part = prep if (start == 0 and stop == prep.n) else prep.slice(start, stop)
        sig = None if signals is None else signals.iloc[start:stop]
        ctx = build_context(part, sig, cfg, bankroll_wei=equity)
        dec = strategy.decide(ctx)
        if ledger is not None and ruined is None:
            kept_side, kept_stake, denied = ledger.filter(
                part, dec[SIDE_COL].to_numpy(dtype=np.int8), dec[STAKE_COL].to_numpy(dtype=np.int64)
            )
            dec = with_denials(dec, kept_side, kept_stake, denied)
        if ruined is not None:
            dec = _mark_ruined(dec, 0)
        else:
            side = dec[SIDE_COL].to_numpy(dtype=np.int8)
            stake = dec[STAKE_COL].to_numpy(dtype=np.int64)
            settled = settle(part, side, stake, cfg, start_equity=equity, round_offset=start, stats=stats)
            bets.append(settled.bets)
            equity = settled.final_equity
            staked += settled.staked
            paid += settled.payout
            gas += settled.gas
            if settled.cut_round is not None:
                ruined = int(part.epoch[settled.cut_round])
                dec = _mark_ruined(dec, settled.cut_round)
        contexts.append(ctx)
        decisions.append(dec)
    context = contexts[0] if len(contexts) == 1 else pd.concat(contexts, ignore_index=True)
    decision = decisions[0] if len(decisions) == 1 else _concat_decisions(decisions)
    bet_frame = bets[0] if len(bets) == 1 else pd.concat(bets, ignore_index=True) if bets else _empty_bets()
    return EngineResult(
        context, decision, bet_frame, prep.n, cfg.bankroll_wei, equity, ruined, prep.lock_ts, staked, paid, gas, stats, cfg
    )


def _mark_ruined(decisions: pd.DataFrame, from_row: int) -> pd.DataFrame:
    """Turn every bet from ``from_row`` on into a skip with ``REASON_RUINED``."""
    out = decisions.copy()
    side = out[SIDE_COL].to_numpy(dtype=np.int8).copy()
    stake = out[STAKE_COL].to_numpy(dtype=np.int64).copy()
    reason = out[REASON_COL]
    if REASON_RUINED not in reason.cat.categories:
        reason = reason.cat.add_categories([REASON_RUINED])
    mask = np.zeros(len(out), dtype=bool)
    mask[from_row:] = side[from_row:] != SKIP
    side[mask] = SKIP
    stake[mask] = 0
    reason = reason.where(~mask, REASON_RUINED)
    out[SIDE_COL] = side
    out[STAKE_COL] = stake
    out[REASON_COL] = reason
    return out


def _concat_decisions(frames: list[pd.DataFrame]) -> pd.DataFrame:
    cats: list[str] = []
    for f in frames:
        for c in f[REASON_COL].cat.categories:
            if c not in cats:
                cats.append(c)
    fixed = [f.assign(**{REASON_COL: f[REASON_COL].cat.set_categories(cats)}) for f in frames]
    return pd.concat(fixed, ignore_index=True)


def _empty_bets() -> pd.DataFrame:
    dtypes = {"side": np.int8, "result": np.int8, "equity_wei": np.float64}
    return pd.DataFrame({c: np.array([], dtype=dtypes.get(c, np.int64)) for c in BET_COLUMNS})


def fingerprint_rows(rows: Iterable[tuple[int, int, int, int]]) -> str:
    """sha256 over ``epoch,side,stake,payout`` lines (decimal integers), one per settled bet, in order."""
    digest = hashlib.sha256()
    for epoch, side, stake, payout in rows:
        digest.update(f"{int(epoch)},{int(side)},{int(stake)},{int(payout)}\n".encode())
    return digest.hexdigest()


def bets_fingerprint(bets: pd.DataFrame) -> str:
    """The fingerprint of a bets frame: changes whenever any settled bet (epoch, side, stake, payout) changes."""
    return fingerprint_rows(
        zip(
            bets["epoch"].tolist(),
            bets["side"].tolist(),
            bets["stake_wei"].tolist(),
            bets["payout_wei"].tolist(),
            strict=True,
        )
    )
