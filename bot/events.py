"""What happens in a running bot, as typed events on one in-process bus.

The daemon publishes; metrics, notifiers, the API's log view and anything else subscribe. Events are frozen
dataclasses (wei as ``int``, times as unix seconds ``float``), so a subscriber can keep them or hand them to another
thread. ``EventBus.publish`` calls every subscriber in the publisher's thread, in subscription order; a subscriber
that raises is logged (once per subscriber and exception class, then at debug level) and never breaks the publisher
or the other subscribers. Subscribers must be quick: the bet path publishes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event; ``at`` is when it was made (unix seconds)."""

    at: float = field(default_factory=time.time)

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class DaemonStarted(Event):
    mode: str  # paper | live
    account: str
    markets: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DaemonStopped(Event):
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class StateChanged(Event):
    """The daemon's control state moved (``bot.engine.control``): running / paused / stopped, or stop-entry set."""

    old: str
    new: str
    reason: str
    by: str
    stop_entry: bool = False


@dataclass(frozen=True, kw_only=True)
class Decision(Event):
    """One decision per round the daemon looked at: bet (side, amount) or skip (reason)."""

    market: str
    epoch: int
    action: Literal["bet", "skip"]
    side: str | None  # "bull" | "bear" | None for a skip
    amount_wei: int
    coin: str
    reason: str
    p_up: float | None = None
    mode: str = "paper"


@dataclass(frozen=True, kw_only=True)
class BetPlaced(Event):
    """An intent was handed to the executor's send path (paper: filled; live: sent or signed)."""

    market: str
    epoch: int
    side: str
    amount_wei: int
    coin: str
    intent_id: int | None
    mode: str
    state: str  # the intent state the executor returned


@dataclass(frozen=True, kw_only=True)
class BetLanded(Event):
    market: str
    epoch: int
    intent_id: int | None
    tx: str | None
    gas_cost_wei: int
    amount_wei: int = 0
    coin: str = ""
    latency_seconds: float | None = None  # trigger -> landed (or paper fill)


@dataclass(frozen=True, kw_only=True)
class BetFailed(Event):
    """The bet did not land: too late, reverted, dropped, failed (``state``) with its reason."""

    market: str
    epoch: int
    intent_id: int | None
    state: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class RoundSettled(Event):
    market: str
    epoch: int
    pnl_wei: int
    coin: str


@dataclass(frozen=True, kw_only=True)
class Claimed(Event):
    market: str
    epochs: tuple[int, ...]
    amount_wei: int
    coin: str = ""
    tx: str | None = None


@dataclass(frozen=True, kw_only=True)
class RiskHalt(Event):
    """A risk limit stopped betting (daily loss, stake cap, losing streak...)."""

    reason: str
    market: str = ""


@dataclass(frozen=True, kw_only=True)
class NeedsHumanRaised(Event):
    """Something only a human can fix; the daemon paused betting."""

    message: str
    market: str = ""


@dataclass(frozen=True, kw_only=True)
class DailySummary(Event):
    day: str  # YYYY-MM-DD (UTC)
    bets: int
    wins: int
    losses: int
    pnl_wei: int
    coin: str
    skips: int = 0


Subscriber = Callable[[Event], None]


class EventBus:
    """A small synchronous, thread-safe publish/subscribe bus."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscriber, ...] = ()
        self._warned: set[tuple[int, type[BaseException]]] = set()
        self.published = 0
        self.subscriber_errors = 0

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add ``fn``; returns a function that removes it again."""
        with self._lock:
            self._subscribers = (*self._subscribers, fn)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not fn)

        return unsubscribe

    def publish(self, event: Event) -> None:
        subscribers = self._subscribers  # an immutable snapshot: (un)subscribing during a publish is safe
        self.published += 1
        for fn in subscribers:
            try:
                fn(event)
            except Exception as exc:  # noqa: BLE001 — a subscriber never breaks the publisher
                self.subscriber_errors += 1
                key = (id(fn), type(exc))
                first = key not in self._warned
                self._warned.add(key)
                log.log(logging.WARNING if first else logging.DEBUG, "event subscriber %s failed on %s: %s: %s",
                        getattr(fn, "__qualname__", repr(fn)), event.kind, type(exc).__name__, exc)
