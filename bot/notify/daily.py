"""The daily summary: once a day at ``notify.daily_summary_hour_utc``, the previous UTC day's settled bets and net
PnL per coin (from the journal, through the query service), sent as ``DailySummary`` messages.

A small background thread with an injectable clock; a day is summarised once per process (a restart after the hour
does not repeat it... nor is it lost: the first check after start sends the last finished day if the hour has passed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.events import DailySummary
from bot.notify.worker import Worker

log = logging.getLogger(__name__)


class PnlSource(Protocol):
    def pnl(self, mode: str | None = None, market: str | None = None, account: str | None = None) -> list[Any]: ...


def summaries(query: PnlSource, mode: str, day: str) -> list[DailySummary]:
    """One ``DailySummary`` per coin for UTC ``day`` (YYYY-MM-DD); none when nothing settled that day."""
    by_coin: dict[str, list[int]] = {}
    for row in query.pnl(mode=mode):
        if row.day != day:
            continue
        acc = by_coin.setdefault(row.coin, [0, 0, 0, 0])
        acc[0] += row.bets
        acc[1] += row.won
        acc[2] += row.lost
        acc[3] += row.net_pnl_wei
    return [DailySummary(day=day, bets=v[0], wins=v[1], losses=v[2], pnl_wei=v[3], coin=coin)
            for coin, v in sorted(by_coin.items())]


class DailyReporter(Worker):
    def __init__(self, query: PnlSource, mode: str, hour_utc: int, post: Callable[[DailySummary], None], *,
                 clock: Callable[[], float] = time.time, check_seconds: float = 60.0) -> None:
        self.query = query
        self.mode = mode
        self.hour = hour_utc
        self.post = post
        self.clock = clock
        self.check_seconds = check_seconds
        self.last_day: str | None = None
        super().__init__("notify-daily")

    def due_day(self) -> str | None:
        """The finished UTC day to summarise now (None: not yet, or already done)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        if now.hour < self.hour:
            return None
        day = (now - timedelta(days=1)).strftime("%Y-%m-%d")
        return None if day == self.last_day else day

    def check(self) -> list[DailySummary]:
        day = self.due_day()
        if day is None:
            return []
        self.last_day = day
        out = summaries(self.query, self.mode, day)
        for summary in out:
            self.post(summary)
        return out

    def start(self) -> DailyReporter:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 — a summary must never stop anything
                log.warning("daily summary failed: %s: %s", type(exc).__name__, exc)
            self._stop.wait(self.check_seconds)
