"""The inference log: every fetch of an Allora inference, accepted or rejected, with its raw payload verbatim.

One row per (source, topic_id, inference timestamp): the same inference polled twice is stored once. Fetches that
produced no inference (timeouts, HTTP errors, garbage) have ``timestamp`` NULL and are never de-duplicated.
Replay reads the rows back in fetch order and re-parses ``raw``, which reproduces exactly what was fetched.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import BigInteger, Index, LargeBinary, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store.db import Base


class InferenceRecord(Base):
    __tablename__ = "allora_inference_log"
    __table_args__ = (
        UniqueConstraint("source", "topic_id", "timestamp", name="uq_allora_inference_source_topic_ts"),
        Index("ix_allora_inference_topic_fetched", "topic_id", "fetched_at_ms"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))  # api | rpc
    topic_id: Mapped[int]
    topic_name: Mapped[str] = mapped_column(String(128))
    timestamp: Mapped[int | None] = mapped_column(BigInteger)  # inference timestamp, unix seconds; NULL when nothing was parsed
    block_height: Mapped[int | None] = mapped_column(BigInteger)
    fetched_at_ms: Mapped[int] = mapped_column(BigInteger)  # when we fetched it, unix milliseconds
    accepted: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(String(32))  # RejectReason value
    detail: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None]
    value: Mapped[str | None] = mapped_column(String(200))  # Decimal text of the network inference
    signer: Mapped[str | None] = mapped_column(String(42))
    raw: Mapped[bytes] = mapped_column(LargeBinary)

    def __repr__(self) -> str:
        state = "accepted" if self.accepted else f"rejected:{self.reason}"
        return f"InferenceRecord({self.source} topic={self.topic_id} ts={self.timestamp} {state})"


def _existing(session: Session, source: str, topic_id: int, timestamp: int) -> InferenceRecord | None:
    stmt = select(InferenceRecord).where(
        InferenceRecord.source == source,
        InferenceRecord.topic_id == topic_id,
        InferenceRecord.timestamp == timestamp,
    )
    return session.scalars(stmt).first()


def record_inference(
    session: Session,
    *,
    source: str,
    topic_id: int,
    topic_name: str,
    fetched_at_ms: int,
    raw: bytes,
    accepted: bool,
    reason: str | None = None,
    detail: str | None = None,
    http_status: int | None = None,
    timestamp: int | None = None,
    block_height: int | None = None,
    value: str | None = None,
    signer: str | None = None,
) -> InferenceRecord | None:
    """Insert one fetch. Returns the new row, or ``None`` when (source, topic, timestamp) is already logged.

    A logged rejection is upgraded in place when the same inference is later accepted (e.g. a timestamp that was
    ahead of our clock); an accepted row is never changed.
    """
    if timestamp is not None:
        prior = _existing(session, source, topic_id, timestamp)
        if prior is not None:
            if accepted and not prior.accepted:
                prior.accepted, prior.reason, prior.detail, prior.signer = True, None, detail, signer
                session.flush()
            return None
    row = InferenceRecord(
        source=source,
        topic_id=topic_id,
        topic_name=topic_name,
        timestamp=timestamp,
        block_height=block_height,
        fetched_at_ms=fetched_at_ms,
        accepted=accepted,
        reason=reason,
        detail=detail,
        http_status=http_status,
        value=value,
        signer=signer,
        raw=raw,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent writer logged the same inference first
        return None
    return row


def latest_accepted(
    session: Session, topic_id: int, *, source: str | None = None, not_after_ms: int | None = None
) -> InferenceRecord | None:
    """The accepted inference with the newest timestamp for a topic (optionally as known at ``not_after_ms``)."""
    stmt = select(InferenceRecord).where(InferenceRecord.topic_id == topic_id, InferenceRecord.accepted.is_(True))
    if source is not None:
        stmt = stmt.where(InferenceRecord.source == source)
    if not_after_ms is not None:
        stmt = stmt.where(InferenceRecord.fetched_at_ms <= not_after_ms)
    stmt = stmt.order_by(InferenceRecord.timestamp.desc(), InferenceRecord.id.desc()).limit(1)
    return session.scalars(stmt).first()


def latest_fetched(
    session: Session, topic_id: int, at_ms: int, *, source: str | None = None
) -> InferenceRecord | None:
    """The last row fetched at or before ``at_ms`` (what a poller would have seen then)."""
    stmt = select(InferenceRecord).where(InferenceRecord.topic_id == topic_id, InferenceRecord.fetched_at_ms <= at_ms)
    if source is not None:
        stmt = stmt.where(InferenceRecord.source == source)
    stmt = stmt.order_by(InferenceRecord.fetched_at_ms.desc(), InferenceRecord.id.desc()).limit(1)
    return session.scalars(stmt).first()


def iter_for_replay(
    session: Session,
    *,
    topic_id: int | None = None,
    source: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    accepted_only: bool = False,
    batch_size: int = 500,
) -> Iterator[InferenceRecord]:
    """Rows in fetch order (fetched_at_ms, id), ``start_ms <= fetched_at_ms < end_ms``, read in batches."""
    last_key: tuple[int, int] | None = None
    while True:
        stmt = select(InferenceRecord)
        if topic_id is not None:
            stmt = stmt.where(InferenceRecord.topic_id == topic_id)
        if source is not None:
            stmt = stmt.where(InferenceRecord.source == source)
        if start_ms is not None:
            stmt = stmt.where(InferenceRecord.fetched_at_ms >= start_ms)
        if end_ms is not None:
            stmt = stmt.where(InferenceRecord.fetched_at_ms < end_ms)
        if accepted_only:
            stmt = stmt.where(InferenceRecord.accepted.is_(True))
        if last_key is not None:
            at, row_id = last_key
            later = InferenceRecord.fetched_at_ms > at
            same_later_id = (InferenceRecord.fetched_at_ms == at) & (InferenceRecord.id > row_id)
            stmt = stmt.where(later | same_later_id)
        stmt = stmt.order_by(InferenceRecord.fetched_at_ms, InferenceRecord.id).limit(batch_size)
        rows = list(session.scalars(stmt))
        yield from rows
        if len(rows) < batch_size:
            return
        last_key = (rows[-1].fetched_at_ms, rows[-1].id)
