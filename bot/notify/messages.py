"""Events as short human messages, amounts in the market's coin (exact, from wei; never a float).

``render(event, coins)`` returns a ``Message`` (the ``notify.events`` switch it belongs to, its text, and whether it
is urgent — urgent messages skip the rate limit) or ``None`` for events we never send (a decision is logged, not sent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot import events as ev
from bot.coins import NATIVE_DECIMALS, Coin


@dataclass(frozen=True)
class Message:
    switch: str  # a field of NotifyEvents
    text: str
    urgent: bool = False


def coin_for(coins: Mapping[str, Coin], market: str, symbol: str = "") -> Coin:
    """The market's coin from the config; else the event's symbol with the native coin's decimals."""
    if market in coins:
        return coins[market]
    return Coin(symbol or "?", NATIVE_DECIMALS)


def signed(coin: Coin, wei: int) -> str:
    return ("+" if wei > 0 else "") + coin.text(wei)


def _started(e: ev.DaemonStarted, coins: Mapping[str, Coin]) -> Message:
    return Message("start_stop", f"▶ daemon started ({e.mode}) on {', '.join(e.markets) or 'no market'}, "
                                 f"account {e.account}")


def _stopped(e: ev.DaemonStopped, coins: Mapping[str, Coin]) -> Message:
    return Message("start_stop", "■ daemon stopped" + (f": {e.reason}" if e.reason else ""))


def _state(e: ev.StateChanged, coins: Mapping[str, Coin]) -> Message:
    flag = " (stop-entry: no new bets)" if e.stop_entry and e.new == "running" else ""
    return Message("state_change", f"⏸ daemon {e.old} → {e.new}{flag} by {e.by}: {e.reason}"
                   if e.new != "running" else f"▶ daemon {e.old} → {e.new}{flag} by {e.by}: {e.reason}",
                   urgent=e.new == "paused")


def _placed(e: ev.BetPlaced, coins: Mapping[str, Coin]) -> Message:
    coin = coin_for(coins, e.market, e.coin)
    return Message("bet_placed", f"bet {e.side.upper()} {coin.text(e.amount_wei)} on {e.market} round {e.epoch} "
                                 f"({e.mode}, {e.state})")


def _landed(e: ev.BetLanded, coins: Mapping[str, Coin]) -> Message:
    coin = coin_for(coins, e.market, e.coin)
    gas = f", gas {coin_for(coins, e.market, e.coin).text(e.gas_cost_wei)}" if e.gas_cost_wei else ""
    return Message("bet_landed", f"bet landed: {e.market} round {e.epoch} {coin.text(e.amount_wei)}{gas}")


def _failed(e: ev.BetFailed, coins: Mapping[str, Coin]) -> Message:
    return Message("bet_failed", f"✗ bet failed: {e.market} round {e.epoch} {e.state}: {e.reason}")


def _settled(e: ev.RoundSettled, coins: Mapping[str, Coin]) -> Message:
    coin = coin_for(coins, e.market, e.coin)
    return Message("round_settled", f"round settled: {e.market} round {e.epoch} PnL {signed(coin, e.pnl_wei)}")


def _claimed(e: ev.Claimed, coins: Mapping[str, Coin]) -> Message:
    coin = coin_for(coins, e.market, e.coin)
    rounds = ", ".join(str(x) for x in e.epochs[:10]) + (" …" if len(e.epochs) > 10 else "")
    return Message("claim", f"claimed {coin.text(e.amount_wei)} on {e.market} (rounds {rounds})")


def _halt(e: ev.RiskHalt, coins: Mapping[str, Coin]) -> Message:
    return Message("risk_halt", f"⚠ risk halt{' on ' + e.market if e.market else ''}: {e.reason}", urgent=True)


def _human(e: ev.NeedsHumanRaised, coins: Mapping[str, Coin]) -> Message:
    return Message("needs_human", f"⚠ needs a human{' (' + e.market + ')' if e.market else ''}: {e.message} — "
                                  "betting is paused; /resume when fixed", urgent=True)


def _daily(e: ev.DailySummary, coins: Mapping[str, Coin]) -> Message:
    coin = Coin(e.coin or "?", next((c.decimals for c in coins.values() if c.symbol == e.coin), NATIVE_DECIMALS))
    return Message("daily_summary", f"day {e.day}: {e.bets} bets ({e.wins} won, {e.losses} lost, {e.skips} skips), "
                                    f"net PnL {signed(coin, e.pnl_wei)}")


_RENDER: dict[type[ev.Event], Callable[[Any, Mapping[str, Coin]], Message]] = {
    ev.DaemonStarted: _started, ev.DaemonStopped: _stopped, ev.StateChanged: _state, ev.BetPlaced: _placed,
    ev.BetLanded: _landed, ev.BetFailed: _failed, ev.RoundSettled: _settled, ev.Claimed: _claimed,
    ev.RiskHalt: _halt, ev.NeedsHumanRaised: _human, ev.DailySummary: _daily,
}


def render(event: ev.Event, coins: Mapping[str, Coin]) -> Message | None:
    fn = _RENDER.get(type(event))
    return fn(event, coins) if fn is not None else None
