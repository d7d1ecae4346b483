"""Settlements and claims as events: ``RoundSettled`` for each of our bets whose outcome became known, ``Claimed``
for each confirmed claim transaction — read from the journal (the reconciler's settlement and claim rows) through
the query service, so whichever process settled them, the running daemon's log and notifiers say so once.

``SettlementFeed.prime()`` marks what is already settled as seen (a restart does not repeat old rounds); ``poll()``
publishes what is new (newest ``window`` rows per look; the feed looks every ``interval`` seconds on its thread).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from bot.events import Claimed, EventBus, RoundSettled
from bot.notify.worker import Worker

log = logging.getLogger(__name__)


class Journal(Protocol):
    def settlements(self, mode: str | None = None, market: str | None = None, account: str | None = None,
                    limit: int | None = 50) -> list[Any]: ...

    def claims(self, market: str | None = None, limit: int | None = 50) -> list[Any]: ...


class SettlementFeed(Worker):
    def __init__(self, query: Journal, bus: EventBus, mode: str, *, interval: float = 2.0, window: int = 200) -> None:
        self.query = query
        self.bus = bus
        self.mode = mode
        self.interval = interval
        self.window = window
        self._bets: set[tuple[str, int, str]] = set()
        self._claims: set[str] = set()
        super().__init__("settlement-feed")

    def prime(self) -> None:
        self._bets = {(b.market, b.epoch, b.account) for b in self.query.settlements(self.mode, limit=None)}
        self._claims = {c.tx for c in self.query.claims(limit=None) if c.confirmed}

    def poll(self) -> int:
        """Publish what settled or was claimed since the last look; returns how many events."""
        published = 0
        for b in reversed(self.query.settlements(self.mode, limit=self.window)):  # oldest first
            key = (b.market, b.epoch, b.account)
            if key in self._bets or b.outcome == "reverted":  # a reverted bet was a BetFailed already
                self._bets.add(key)
                continue
            self._bets.add(key)
            self.bus.publish(RoundSettled(market=b.market, epoch=b.epoch, coin=b.coin, pnl_wei=b.net_pnl_wei))
            published += 1
        if self.mode == "live":
            for c in reversed(self.query.claims(limit=self.window)):
                if not c.confirmed or c.tx in self._claims:
                    continue
                self._claims.add(c.tx)
                self.bus.publish(Claimed(market=c.market, epochs=tuple(c.epochs), amount_wei=c.claimed_wei, tx=c.tx))
                published += 1
        return published

    def start(self) -> SettlementFeed:
        self.prime()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 — the feed must never stop the daemon
                log.warning("settlement feed: %s: %s", type(exc).__name__, exc)
