"""A manual bet placed inside the running daemon's process (the REST API's ``POST /api/bet``, a chat command).

The same path as the CLI's ``bet``: the round read from the chain, the market minimum, the risk limits
(``default_limits`` over the journal's risk snapshot), a ``BetRequest`` with ``origin="manual"``; then
- paper: the daemon's paper executor fills it (the journal's spending caps and one-bet-per-round rule apply);
- live: it is handed over to the daemon's live executor through the journal (``hand_over``, exactly as ``bet --live``
  does when a daemon holds the account) and awaited: the daemon signs it with the same caps and lifecycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.domain import Position
from bot.engine.executor import BetRequest, BetResult, Executor, SpendingCaps, await_outcome, hand_over
from bot.engine.risk import RiskContext, default_limits, evaluate
from bot.errors import BotError, InputError
from bot.markets.base import PredictionMarket
from bot.store import hotjournal
from bot.store.journal import IntentState


class BetRefused(BotError):
    """Not placed: the round is not bettable, a risk limit or cap refused it, or the round already has a bet."""


@dataclass(frozen=True)
class ManualBet:
    market: str
    side: Position
    amount_wei: int
    epoch: int | None = None  # None: the current round


@dataclass(frozen=True)
class BetOutcome:
    result: BetResult
    epoch: int


def place_manual_bet(
    bet: ManualBet, *, settings: Settings, engine: Engine, market: PredictionMarket, executor: Executor,
    account: str, live: bool, caps: SpendingCaps, chain_now: Callable[[], float], bankroll: Callable[[], int],
    handover_wait_seconds: float = 30.0,
) -> BetOutcome:
    """Place ``bet``; returns the executor's result and the epoch. ``InputError`` for bad input, ``BetRefused`` when it
    is not placed (the result of a placed bet that did not land is returned, not raised)."""
    if bet.amount_wei <= 0:
        raise InputError("amount must be positive")
    if bet.epoch is not None and bet.epoch <= 0:
        raise InputError(f"epoch must be positive, got {bet.epoch}")
    epoch = bet.epoch if bet.epoch is not None else market.current_epoch()
    rnd = market.round(epoch)
    params = market.params()
    now = chain_now()
    if bet.amount_wei < params.min_bet_amount:
        raise InputError(f"amount {bet.amount_wei} wei is below the market minimum {params.min_bet_amount} wei")
    if params.paused or not rnd.started or now >= rnd.lock_timestamp:
        raise BetRefused(f"round {epoch} is not bettable (market paused, not started or locked)")
    mode = "live" if live else "paper"
    stats = hotjournal.risk_snapshot(engine, market.name, epoch, account, mode).stats
    verdict = evaluate(default_limits(settings.risk), RiskContext(
        market=market.name, epoch=epoch, stake_wei=bet.amount_wei, bankroll_wei=bankroll(),
        total_pool_wei=rnd.total_amount, params=params, day_staked_wei=stats[0], day_pnl_wei=stats[1],
        consecutive_losses=stats[2]))
    if not verdict.allowed:
        raise BetRefused(f"refused by risk limit {verdict.limit}: {verdict.reason}")
    req = BetRequest(
        market=market, epoch=epoch, position=bet.side, amount=bet.amount_wei, lock_ts=rnd.lock_timestamp,
        start_ts=rnd.start_timestamp, strategy="manual", origin="manual",
        decision={"manual": True, "bull_pool_wei": rnd.bull_amount, "bear_pool_wei": rnd.bear_amount},
        fired_at=time.perf_counter())
    if not live:
        result = executor.place(req)
    else:
        opened = hand_over(engine, req, account, caps)
        if opened.denied:
            raise BetRefused(f"spending cap: {opened.denied}")
        if not opened.created:
            result = BetResult(opened.row.id, opened.row.state, "already decided for this round", duplicate=True)
        else:
            deadline = time.time() + max(rnd.lock_timestamp - now, 0) + handover_wait_seconds
            row = await_outcome(engine, opened.row.id, deadline)
            reason = row.reason if row.state.terminal else "the daemon has not finished it yet"
            result = BetResult(row.id, row.state, reason, row.tx_hash)
    if result.duplicate:
        raise BetRefused(f"round {epoch} already has a bet in the journal ({result.state.value})")
    if result.state is IntentState.FAILED and result.reason.startswith("spending cap"):
        raise BetRefused(result.reason)
    return BetOutcome(result, epoch)
