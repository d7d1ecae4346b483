"""The one decision path: signal -> context fields -> strategy -> risk limits. Pure; used by the daemon (live and
paper) and by the backtest.

- ``signal_fields``: the one conversion of a live ``Signal`` (``bot.allora.normalise.to_signal``) into the strategy's
  context fields (``p_up``, ``predicted_return``, ``signal_age``); the backtest's aligned signal frame carries the same
  three columns, and ``inferences export`` writes ``p_up`` with ``to_signal`` itself.
- ``apply_limits``: a strategy's proposal through the risk plugins (``bot.engine.risk``), given the journal figures
  (``RiskState``) at decision time. The daemon calls it per round; the backtest (``bot.backtest.risk``) calls it per
  proposed bet in time order, with the figures its own settled bets produce.
- ``decide``: both for one round — what ``Daemon.decide`` runs.

Strategies are vectorised classes (``strategies.base``): the daemon asks ``decide_one`` for one round, the backtest
``decide`` for all rounds at once — the same class, the same shared stake rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain import MarketParams
from bot.engine.risk import RiskContext, RiskLimit, evaluate
from strategies.base import Decision


class Proposer(Protocol):
    name: str

    def decide_one(self, **fields: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class RiskState:
    """What the journal says at decision time: staked and realised PnL since midnight UTC, losses in a row."""

    day_staked_wei: int = 0
    day_pnl_wei: int = 0
    consecutive_losses: int = 0


def signal_fields(signal: Any | None) -> dict[str, float]:
    """``p_up``, ``predicted_return``, ``signal_age`` of a live ``Signal`` (NaN p_up: no signal)."""
    if signal is None:
        return {"p_up": math.nan, "predicted_return": math.nan, "signal_age": math.nan}
    return {
        "p_up": float(signal.p_up),
        "predicted_return": float(signal.predicted_return),
        "signal_age": float(signal.age_seconds),
    }


def apply_limits(
    limits: Sequence[RiskLimit],
    proposal: Decision,
    *,
    market: str,
    epoch: int,
    bankroll_wei: int,
    total_pool_wei: int,
    params: MarketParams,
    state: RiskState,
) -> Decision:
    """``proposal`` unless a risk limit denies it (then a skip whose reason names the limit)."""
    if not proposal.bet:
        return proposal
    ctx = RiskContext(
        market=market, epoch=epoch, stake_wei=proposal.stake_wei, bankroll_wei=bankroll_wei,
        total_pool_wei=total_pool_wei, params=params, day_staked_wei=state.day_staked_wei,
        day_pnl_wei=state.day_pnl_wei, consecutive_losses=state.consecutive_losses,
    )
    verdict = evaluate(list(limits), ctx)
    if verdict.allowed:
        return proposal
    return Decision(None, 0, f"risk {verdict.limit}: {verdict.reason}")


def decide(
    strategy: Proposer,
    limits: Sequence[RiskLimit],
    fields: Mapping[str, Any],
    *,
    market: str,
    total_pool_wei: int,
    params: MarketParams,
    state: Callable[[], RiskState],
    mark: Callable[[str], None] | None = None,
) -> Decision:
    """One round: the strategy's ``decide_one`` on ``fields`` (the context columns), then ``apply_limits``.
    ``state`` is read only when there is a bet to check (the journal read is skipped on skips)."""
    out = strategy.decide_one(**fields)
    if mark is not None:
        mark("strategy")
    proposal = Decision(out.side, int(out.stake_wei), str(out.reason))  # a user strategy may return its own type
    if not proposal.bet:
        return proposal
    verdict = apply_limits(
        limits, proposal, market=market, epoch=int(fields["epoch"]), bankroll_wei=int(fields["bankroll_wei"]),
        total_pool_wei=total_pool_wei, params=params, state=state(),
    )
    if mark is not None:
        mark("risk")
    return verdict
