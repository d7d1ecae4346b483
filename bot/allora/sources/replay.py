"""Replay source: serves what the inference log recorded, for backtests and paper runs.

``fetch(topic)`` returns what the last logged fetch at or before the replay clock returned, re-parsed from the raw
payload (byte for byte the same), so the poller, verification and strategies run unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from sqlalchemy.orm import Session, sessionmaker

from bot.allora.journal import InferenceJournal
from bot.allora.model import FetchResult
from bot.allora.reasons import RejectReason
from bot.allora.sources.base import Clock
from bot.config import TopicConfig


class ReplaySource:
    name = "replay"

    def __init__(
        self, factory: sessionmaker[Session], *, clock: Clock = time.time, source: str | None = None
    ) -> None:
        """``source`` restricts replay to what one live source ("api" or "rpc") fetched."""
        self.journal = InferenceJournal(factory)
        self.clock = clock
        self.source = source

    def fetch(self, topic: TopicConfig) -> FetchResult:
        now = self.clock()
        try:
            found = self.journal.at(topic, now, source=self.source)
        except Exception as exc:  # the boundary: a broken log is a reason, not a crash
            return FetchResult(
                source="api" if self.source != "rpc" else "rpc",
                topic_name=topic.name,
                topic_id=topic.topic_id,
                fetched_at=now,
                reason=RejectReason.UNAVAILABLE,
                detail=f"inference log unreadable: {type(exc).__name__}",
            )
        if found is None:
            return FetchResult(
                source="api" if self.source != "rpc" else "rpc",
                topic_name=topic.name,
                topic_id=topic.topic_id,
                fetched_at=now,
                reason=RejectReason.UNAVAILABLE,
                detail=f"nothing logged for topic {topic.topic_id} before {now:.0f}",
            )
        return found

    def results(
        self, topic: TopicConfig, *, start: float | None = None, end: float | None = None, accepted_only: bool = False
    ) -> Iterator[FetchResult]:
        """Every logged fetch of ``topic`` in fetch order (for vectorised backtests)."""
        return self.journal.replay(topic, start=start, end=end, source=self.source, accepted_only=accepted_only)

    def close(self) -> None:
        return None
