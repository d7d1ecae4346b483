"""Glue between fetch results and the inference log (``bot.store.inferences``).

``InferenceJournal.record`` never raises: a database failure is logged and the poll goes on. ``result_from_record``
re-parses a logged row, reproducing the ``FetchResult`` that was fetched (same raw bytes, same inference).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.allora.model import FetchResult, Inference, Rejection, SourceName, Verdict
from bot.allora.parsing import parse_api_payload, parse_chain_bundle
from bot.allora.reasons import RejectReason
from bot.config import TopicConfig
from bot.store.db import session_scope
from bot.store.inferences import InferenceRecord, iter_for_replay, latest_accepted, latest_fetched, record_inference

log = logging.getLogger(__name__)


def _source_name(text: str) -> SourceName:
    return "rpc" if text == "rpc" else "api"


def _reason(text: str | None) -> RejectReason | None:
    if text is None:
        return None
    try:
        return RejectReason(text)
    except ValueError:
        return RejectReason.MALFORMED


def reparse(row: InferenceRecord, topic: TopicConfig) -> Inference | Rejection:
    if row.source == "rpc":
        return parse_chain_bundle(row.raw, topic, timestamp=row.timestamp or 0, block_height=row.block_height)
    return parse_api_payload(row.raw, topic)


def result_from_record(row: InferenceRecord, topic: TopicConfig) -> FetchResult:
    """The ``FetchResult`` a logged row came from (verification is redone by whoever consumes it)."""
    base = FetchResult(
        source=_source_name(row.source),
        topic_name=topic.name,
        topic_id=row.topic_id,
        fetched_at=row.fetched_at_ms / 1000.0,
        raw=row.raw,
        http_status=row.http_status,
        block_height=row.block_height,
    )
    if row.timestamp is None:
        return replace(base, reason=_reason(row.reason), detail=row.detail or "")
    parsed = reparse(row, topic)
    if isinstance(parsed, Rejection):
        return replace(base, reason=parsed.reason, detail=parsed.detail)
    return replace(base, inference=parsed)


class InferenceJournal:
    """Writes fetches to the log and reads them back; one DB transaction per call."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    def record(self, result: FetchResult, verdict: Verdict | None = None) -> bool:
        """Log one fetch; ``True`` if a new row was written. Database errors are logged, never raised."""
        inference = result.inference
        if inference is not None and verdict is None:
            raise ValueError("an inference must be recorded with its verdict")
        reason = result.reason if inference is None else (verdict.reason if verdict else None)
        detail = result.detail if inference is None else (verdict.detail if verdict else "")
        try:
            with session_scope(self._factory) as session:
                row = record_inference(
                    session,
                    source=result.source,
                    topic_id=result.topic_id,
                    topic_name=result.topic_name,
                    fetched_at_ms=round(result.fetched_at * 1000),
                    raw=result.raw,
                    accepted=inference is not None and reason is None,
                    reason=reason.value if reason else None,
                    detail=detail or None,
                    http_status=result.http_status,
                    timestamp=inference.timestamp if inference else None,
                    block_height=inference.block_height if inference else result.block_height,
                    value=str(inference.value) if inference else None,
                    signer=verdict.signer if verdict else None,
                )
                return row is not None
        except SQLAlchemyError:
            log.exception("inference log: could not record topic %s fetch", result.topic_name)
            return False

    def latest_accepted(self, topic: TopicConfig, *, source: str | None = None) -> Inference | None:
        try:
            with session_scope(self._factory) as session:
                row = latest_accepted(session, topic.topic_id, source=source)
                if row is None:
                    return None
                parsed = reparse(row, topic)
                return None if isinstance(parsed, Rejection) else replace(parsed, signer=row.signer)
        except SQLAlchemyError:
            log.exception("inference log: could not read topic %s", topic.name)
            return None

    def at(self, topic: TopicConfig, when: float, *, source: str | None = None) -> FetchResult | None:
        """What the last fetch at or before ``when`` returned."""
        with session_scope(self._factory) as session:
            row = latest_fetched(session, topic.topic_id, round(when * 1000), source=source)
            return None if row is None else result_from_record(row, topic)

    def replay(
        self,
        topic: TopicConfig,
        *,
        start: float | None = None,
        end: float | None = None,
        source: str | None = None,
        accepted_only: bool = False,
    ) -> Iterator[FetchResult]:
        """Logged fetches of ``topic`` in fetch order, ``start <= fetched_at < end``."""
        with session_scope(self._factory) as session:
            rows = iter_for_replay(
                session,
                topic_id=topic.topic_id,
                source=source,
                start_ms=None if start is None else round(start * 1000),
                end_ms=None if end is None else round(end * 1000),
                accepted_only=accepted_only,
            )
            for row in rows:
                yield result_from_record(row, topic)
