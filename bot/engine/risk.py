"""Risk limits: small plugins, each returning allow/deny with a reason. All must allow for a bet to go ahead.

The context is built by the engine from the journal and settlements (I/O at the edge); the plugins are pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.config import RiskConfig
from bot.domain import MarketParams


@dataclass(frozen=True)
class RiskContext:
    market: str
    epoch: int
    stake_wei: int
    bankroll_wei: int
    total_pool_wei: int
    params: MarketParams
    day_staked_wei: int = 0
    day_pnl_wei: int = 0  # realised today; negative = loss
    consecutive_losses: int = 0


@dataclass(frozen=True)
class RiskVerdict:
    allowed: bool
    limit: str = ""
    reason: str = ""


ALLOW = RiskVerdict(True)


class RiskLimit(Protocol):
    name: str

    def check(self, ctx: RiskContext) -> RiskVerdict: ...


@dataclass
class MaxStakePerBet:
    cap_wei: int
    name: str = "max-stake-per-bet"

    def check(self, ctx: RiskContext) -> RiskVerdict:
        if ctx.stake_wei > self.cap_wei:
            return RiskVerdict(False, self.name, f"stake {ctx.stake_wei} > cap {self.cap_wei}")
        return ALLOW


@dataclass
class MaxStakePerDay:
    cap_wei: int
    name: str = "max-stake-per-day"

    def check(self, ctx: RiskContext) -> RiskVerdict:
        if ctx.day_staked_wei + ctx.stake_wei > self.cap_wei:
            return RiskVerdict(False, self.name, f"{ctx.day_staked_wei} staked today; cap {self.cap_wei}")
        return ALLOW


@dataclass
class MaxDailyLoss:
    cap_wei: int
    name: str = "max-daily-loss"

    def check(self, ctx: RiskContext) -> RiskVerdict:
        if -ctx.day_pnl_wei >= self.cap_wei:
            return RiskVerdict(False, self.name, f"lost {-ctx.day_pnl_wei} wei today; cap {self.cap_wei}")
        return ALLOW


@dataclass
class PauseAfterLosses:
    max_losses: int
    name: str = "pause-after-losses"

    def check(self, ctx: RiskContext) -> RiskVerdict:
        if self.max_losses and ctx.consecutive_losses >= self.max_losses:
            return RiskVerdict(False, self.name, f"{ctx.consecutive_losses} losses in a row")
        return ALLOW


@dataclass
class MinPoolSize:
    min_wei: int
    name: str = "min-pool-size"

    def check(self, ctx: RiskContext) -> RiskVerdict:
        if ctx.total_pool_wei < self.min_wei:
            return RiskVerdict(False, self.name, f"pool {ctx.total_pool_wei} < {self.min_wei}")
        return ALLOW


@dataclass
class BankrollFraction:
    fraction: float
    name: str = "bankroll-fraction"

    def check(self, ctx: RiskContext) -> RiskVerdict:
        # integer comparison: stake * 1e6 <= bankroll * round(fraction * 1e6)
        scaled = round(self.fraction * 1_000_000)
        if ctx.stake_wei * 1_000_000 > ctx.bankroll_wei * scaled:
            return RiskVerdict(False, self.name, f"stake above {self.fraction:.2%} of bankroll {ctx.bankroll_wei}")
        return ALLOW


@dataclass
class KillSwitch:
    path: Path
    name: str = "kill-switch"

    def check(self, ctx: RiskContext) -> RiskVerdict:
        if self.path.exists():
            return RiskVerdict(False, self.name, f"kill-switch file {self.path} exists")
        return ALLOW


@dataclass
class MarketPaused:
    name: str = "market-paused"

    def check(self, ctx: RiskContext) -> RiskVerdict:
        if ctx.params.paused:
            return RiskVerdict(False, self.name, "market is paused")
        return ALLOW


@dataclass
class MinBet:
    name: str = "min-bet"

    def check(self, ctx: RiskContext) -> RiskVerdict:
        # the contract requires amount >= minBetAmount ("Bet amount must be greater than minBetAmount")
        if ctx.stake_wei < ctx.params.min_bet_amount:
            return RiskVerdict(False, self.name, f"stake {ctx.stake_wei} below the market minimum {ctx.params.min_bet_amount}")
        return ALLOW


def default_limits(config: RiskConfig) -> list[RiskLimit]:
    return [
        KillSwitch(Path(config.kill_switch_file)),
        MarketPaused(),
        MinBet(),
        MaxStakePerBet(config.max_stake_per_bet_wei),
        MaxStakePerDay(config.max_stake_per_day_wei),
        MaxDailyLoss(config.max_daily_loss_wei),
        PauseAfterLosses(config.pause_after_losses),
        MinPoolSize(config.min_pool_wei),
        BankrollFraction(config.bankroll_fraction),
    ]


def evaluate(limits: list[RiskLimit], ctx: RiskContext) -> RiskVerdict:
    for limit in limits:
        verdict = limit.check(ctx)
        if not verdict.allowed:
            return verdict
    return ALLOW
