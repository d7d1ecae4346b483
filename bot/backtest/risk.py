"""The daemon's risk limits in a backtest: the strategy's proposed bets pass ``bot.engine.decision.apply_limits`` one by
one in time order, with the journal figures the backtest's own earlier bets would have produced.

- the limits are ``bot.engine.risk.default_limits(config.risk)`` — the same plugins, the same config section — minus the
  kill switch (a file on this machine today says nothing about history);
- ``day_staked_wei``: stakes kept since midnight UTC of the decision (``lock - lead``);
- ``day_pnl_wei``: net PnL (payout - stake) of kept bets *settled* by the decision (a round is settled one interval
  after its lock) since that midnight — the next round is decided before this one closes, as live;
- ``consecutive_losses``: settled losses in a row, newest first, up to the last win (refunds neither break nor extend);
- bankroll: the one the strategy sized from; pools: the round's total; market: not paused, the run's fee and minimum.

A Python loop over proposed bets only (the engine runs it when ``EngineConfig.risk`` is set; the 1,000,000-round
benchmark runs without it).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.backtest.exact import payouts_if_win
from bot.backtest.market import NOT_EXECUTED, EngineConfig, PreparedRounds
from bot.config import RiskConfig
from bot.domain import MarketParams, Position
from bot.engine.decision import RiskState, apply_limits
from bot.engine.risk import RiskLimit, default_limits
from strategies.base import REASON_COL, SIDE_COL, STAKE_COL, Decision

DAY = 86_400
REASON_RISK_PREFIX = "risk "


def backtest_limits(config: RiskConfig) -> list[RiskLimit]:
    return [limit for limit in default_limits(config) if limit.name != "kill-switch"]


@dataclass
class RiskLedger:
    """The journal figures of a backtest, carried across the engine's blocks."""

    limits: list[RiskLimit]
    params: MarketParams
    bankroll_wei: int
    lead_seconds: float
    settle_after_s: int
    staked: list[tuple[int, int]] = field(default_factory=list)  # (decision day, stake) of kept bets
    pending: list[tuple[int, int, int, int]] = field(default_factory=list)  # heap: (settled at, seq, pnl, result)
    settled_pnl: list[tuple[int, int]] = field(default_factory=list)  # (settled day, pnl)
    streak: int = 0
    seq: int = 0

    @classmethod
    def for_run(cls, config: EngineConfig, prep: PreparedRounds) -> RiskLedger:
        assert config.risk is not None
        gaps = np.diff(prep.lock_ts)
        interval = int(np.median(gaps)) if len(gaps) else 300
        params = MarketParams(
            interval_seconds=interval, buffer_seconds=0, min_bet_amount=config.min_bet_wei,
            treasury_fee_bp=config.fee_bp, paused=False,
        )
        return cls(backtest_limits(config.risk), params, config.bankroll_wei, config.lead_seconds, interval)

    def _settle_until(self, t: int) -> None:
        while self.pending and self.pending[0][0] <= t:
            at, _, pnl, result = heapq.heappop(self.pending)
            self.settled_pnl.append((at // DAY, pnl))
            if result == 0:
                self.streak = 0
            elif result == 1:
                self.streak += 1

    def state(self, t: int) -> RiskState:
        self._settle_until(t)
        day = t // DAY
        staked = sum(s for d, s in self.staked if d == day)
        pnl = sum(p for d, p in self.settled_pnl if d == day)
        self.staked = [(d, s) for d, s in self.staked if d == day]  # older days no longer count
        self.settled_pnl = [(d, p) for d, p in self.settled_pnl if d == day]
        return RiskState(staked, pnl, self.streak)

    def filter(
        self, prep: PreparedRounds, side: npt.NDArray[np.int8], stake: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64], dict[int, str]]:
        """Side and stake with denied bets turned into skips, and row -> reason of each denial."""
        side = side.copy()
        stake = stake.copy()
        rows = np.flatnonzero(side >= 0)
        if not len(rows):
            return side, stake, {}
        b = stake[rows]
        bull = prep.bull[rows]
        bear = prep.bear[rows]
        mine = np.where(side[rows] == 0, bull, bear)
        other = np.where(side[rows] == 0, bear, bull)
        pay = payouts_if_win(b.astype(np.int64), np.asarray(mine), np.asarray(other), self.params.treasury_fee_bp)
        outcome = prep.outcome[rows]
        denied: dict[int, str] = {}
        for k, i in enumerate(rows.tolist()):
            decided = int(prep.lock_ts[i] - self.lead_seconds)
            proposal = Decision(Position(int(side[i])), int(stake[i]), "")
            verdict = apply_limits(
                self.limits, proposal, market="backtest", epoch=int(prep.epoch[i]), bankroll_wei=self.bankroll_wei,
                total_pool_wei=int(bull[k]) + int(bear[k]), params=self.params, state=self.state(decided),
            )
            if not verdict.bet:
                side[i], stake[i] = -1, 0
                denied[i] = verdict.reason
                continue
            self.staked.append((decided // DAY, int(stake[i])))
            if outcome[k] == NOT_EXECUTED:
                pnl, result = 0, 2
            elif outcome[k] == side[i]:
                pnl, result = int(pay[k]) - int(stake[i]), 0
            else:
                pnl, result = -int(stake[i]), 1
            heapq.heappush(self.pending, (int(prep.lock_ts[i]) + self.settle_after_s, self.seq, pnl, result))
            self.seq += 1
        return side, stake, denied


def with_denials(decisions: pd.DataFrame, side: npt.NDArray[np.int8], stake: npt.NDArray[np.int64],
                 denied: dict[int, str]) -> pd.DataFrame:
    """``decisions`` with denied rows skipped; their reason is ``risk <limit>`` (the limit's name, no figures)."""
    if not denied:
        return decisions
    out = decisions.copy()
    labels = {i: r.split(":", 1)[0] for i, r in denied.items()}
    reason = out[REASON_COL]
    new = [r for r in dict.fromkeys(labels.values()) if r not in reason.cat.categories]
    if new:
        reason = reason.cat.add_categories(new)
    values = reason.copy()
    pos = np.fromiter(labels.keys(), dtype=np.int64)
    values.iloc[pos] = list(labels.values())
    out[SIDE_COL] = side
    out[STAKE_COL] = stake
    out[REASON_COL] = values
    return out
