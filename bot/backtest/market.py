"""What the engine settles against: run settings (``EngineConfig``) and per-round arrays (``PreparedRounds``).

Outcome codes per round: ``BULL_WON``, ``BEAR_WON``, ``DRAW`` (house wins: V2/V3 ``close == lock``) and
``NOT_EXECUTED`` (refund). Result codes per bet: ``WON``, ``LOST``, ``HOUSE``, ``REFUND`` (labels ``RESULT_LABELS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.backtest.exact import to_float
from bot.backtest.rounds import validate_rounds
from bot.config import RiskConfig
from bot.markets.dialects import dialect_for

BULL_WON, BEAR_WON, DRAW, NOT_EXECUTED = 0, 1, 2, 3
WON, LOST, HOUSE, REFUND = 0, 1, 2, 3
RESULT_LABELS: tuple[str, ...] = ("won", "lost", "house", "refund")
REASON_RUINED = "skip: bankroll exhausted"
# One row per settled bet. ``round_index`` points into the rounds frame (join it for times, prices, pools).
# Gas per bet is ``gas_per_bet_wei`` (+ ``gas_per_claim_wei`` when won or refunded); ``pnl_wei`` includes it.
BET_COLUMNS: tuple[str, ...] = (
    "round_index",
    "epoch",
    "side",
    "stake_wei",
    "result",
    "payout_wei",
    "pnl_wei",
    "equity_wei",
)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Market and accounting settings of a backtest run (wei amounts are exact ints)."""

    fee_bp: int = 300
    min_bet_wei: int = 10**15
    bankroll_wei: int = 10**18
    lead_seconds: float = 4.0
    gas_per_bet_wei: int = 0
    gas_per_claim_wei: int = 0
    dialect: Literal["v2", "v3", "ai"] = "v2"
    stop_on_ruin: bool = True
    rebalance_every: int | None = None
    risk: RiskConfig | None = None  # the daemon's risk limits (bot.backtest.risk); None: none

    def __post_init__(self) -> None:
        if not 0 <= self.fee_bp <= 10_000:
            raise ValueError(f"fee_bp must be in [0, 10000], got {self.fee_bp}")
        if self.bankroll_wei <= 0 or self.min_bet_wei <= 0:
            raise ValueError("bankroll_wei and min_bet_wei must be > 0")
        if self.gas_per_bet_wei < 0 or self.gas_per_claim_wei < 0:
            raise ValueError("gas costs must be >= 0")
        if not self.lead_seconds >= 0:  # a decision after the lock would see what it bets on
            raise ValueError(f"lead_seconds must be >= 0, got {self.lead_seconds}: a negative lead is look-ahead")
        if self.rebalance_every is not None and self.rebalance_every <= 0:
            raise ValueError("rebalance_every must be > 0 (or None)")


@dataclass(slots=True)
class PreparedRounds:
    """Arrays derived once from a rounds frame (outcomes, float pools, AI direction), reused across runs."""

    epoch: npt.NDArray[np.int64]
    lock_ts: npt.NDArray[np.int64]
    outcome: npt.NDArray[np.int8]
    bull: np.ndarray  # exact wei: int64 or object
    bear: np.ndarray
    ai_direction: npt.NDArray[np.float64]
    # pools the decision sees (float wei): decision-time pools where known, else the final ones; None: the final pools
    seen_bull: npt.NDArray[np.float64] | None = None
    seen_bear: npt.NDArray[np.float64] | None = None
    _bull_f: npt.NDArray[np.float64] | None = None
    _bear_f: npt.NDArray[np.float64] | None = None

    @property
    def n(self) -> int:
        return len(self.epoch)

    @property
    def bull_f(self) -> npt.NDArray[np.float64]:
        """Bull pools as float64 (statistics, strategies), converted on first use."""
        if self._bull_f is None:
            self._bull_f = to_float(self.bull)
        return self._bull_f

    @property
    def bear_f(self) -> npt.NDArray[np.float64]:
        if self._bear_f is None:
            self._bear_f = to_float(self.bear)
        return self._bear_f

    @classmethod
    def from_frame(cls, rounds: pd.DataFrame, dialect: str = "v2", *, validate: bool = True) -> PreparedRounds:
        if validate:
            validate_rounds(rounds)
        lock = rounds["lock_price"].to_numpy()
        close = rounds["close_price"].to_numpy()
        executed = rounds["oracle_called"].to_numpy(dtype=bool)
        n = len(rounds)
        ai_dir: npt.NDArray[np.float64] = np.broadcast_to(np.float64(0.0), (n,))  # read-only zeros, no memory
        if dialect_for(dialect).ai_positions:  # Bull means "the AI is right": outcomes from the AI price
            if "ai_price" not in rounds.columns:
                raise ValueError("the AI dialect needs an ai_price column in the rounds")
            ai = rounds["ai_price"].to_numpy()
            ai_vs_lock = _sign(ai, lock)
            real = _sign(close, lock)
            outcome = np.where(ai_vs_lock == real, BULL_WON, BEAR_WON).astype(np.int8)
            ai_dir = _ai_reference_direction(rounds, ai)
        else:
            up = np.asarray(close > lock, dtype=bool)
            down = np.asarray(close < lock, dtype=bool)
            outcome = (DRAW - 2 * up.view(np.int8) - down.view(np.int8)).astype(np.int8)
        outcome[~executed] = NOT_EXECUTED
        bull = rounds["bull_wei"].to_numpy()
        bear = rounds["bear_wei"].to_numpy()
        seen_bull = seen_bear = None
        if "decision_bull_wei" in rounds.columns:  # bot.backtest.decision_pools: NaN where the journal has none
            seen_bull = np.where(rounds["decision_bull_wei"].isna(), to_float(bull), rounds["decision_bull_wei"].to_numpy(dtype=np.float64))
            seen_bear = np.where(rounds["decision_bear_wei"].isna(), to_float(bear), rounds["decision_bear_wei"].to_numpy(dtype=np.float64))
        return cls(
            epoch=rounds["epoch"].to_numpy(dtype=np.int64),
            lock_ts=rounds["lock_ts"].to_numpy(dtype=np.int64),
            outcome=outcome,
            bull=bull,
            bear=bear,
            ai_direction=ai_dir,
            seen_bull=seen_bull,
            seen_bear=seen_bear,
        )

    def slice(self, start: int, stop: int) -> PreparedRounds:
        cut = slice(start, stop)
        return PreparedRounds(
            epoch=self.epoch[cut], lock_ts=self.lock_ts[cut], outcome=self.outcome[cut], bull=self.bull[cut],
            bear=self.bear[cut], ai_direction=self.ai_direction[cut],
            seen_bull=None if self.seen_bull is None else self.seen_bull[cut],
            seen_bear=None if self.seen_bear is None else self.seen_bear[cut],
        )


def _sign(a: np.ndarray, b: np.ndarray) -> npt.NDArray[np.int8]:
    return (np.asarray(a > b, dtype=np.int8) - np.asarray(a < b, dtype=np.int8)).astype(np.int8)


def _ai_reference_direction(rounds: pd.DataFrame, ai: np.ndarray) -> npt.NDArray[np.float64]:
    """Where the AI price sits against the price known when the round started (its reference)."""
    if "start_price" in rounds.columns:
        return _sign(ai, rounds["start_price"].to_numpy()).astype(np.float64)
    # the previous round's lock price is the price at this round's start (executeRound does both at once)
    lock = rounds["lock_price"].to_numpy()
    prev = np.empty_like(lock)
    prev[1:] = lock[:-1]
    if len(lock):
        prev[0] = lock[0]
    direction = _sign(ai, prev).astype(np.float64)
    epochs = rounds["epoch"].to_numpy()
    consecutive = np.zeros(len(lock), dtype=bool)
    consecutive[1:] = np.diff(epochs) == 1
    return np.where(consecutive, direction, 0.0)
