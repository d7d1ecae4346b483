"""The inference log: de-dup, queries, and replay reproducing fetches byte for byte."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.allora.journal import InferenceJournal
from bot.allora.model import FetchResult
from bot.allora.poller import Poller
from bot.allora.reasons import RejectReason
from bot.allora.sources import ApiSource, ChainSource, ReplaySource
from bot.allora.verify import verify
from bot.store.db import session_scope
from bot.store.inferences import InferenceRecord, iter_for_replay, latest_accepted, record_inference
from tests.allora.conftest import LOG_RETURN, TOPICS, Env


def _row(session: Session, **overrides: object) -> InferenceRecord | None:
    values: dict[str, object] = {
        "source": "api", "topic_id": 14, "topic_name": "t", "fetched_at_ms": 1000, "raw": b"{}", "accepted": True,
        "timestamp": 100,
    }
    values.update(overrides)
    return record_inference(session, **values)  # type: ignore[arg-type]


def test_dedup_upgrade_and_queries(db: sessionmaker[Session]) -> None:
    with session_scope(db) as s:
        assert _row(s, accepted=False, reason="future", timestamp=100) is not None
        assert _row(s, accepted=False, reason="future", timestamp=100) is None  # same inference again
        assert _row(s, accepted=True, timestamp=100, signer="0xabc") is None  # upgraded in place
        assert _row(s, source="rpc", timestamp=100) is not None  # another source is another row
        assert _row(s, timestamp=None, accepted=False, reason="timeout", fetched_at_ms=2000) is not None
        assert _row(s, timestamp=None, accepted=False, reason="timeout", fetched_at_ms=2000) is not None  # never deduped
        assert _row(s, timestamp=200, fetched_at_ms=3000) is not None
        assert _row(s, topic_id=15, timestamp=300, fetched_at_ms=4000) is not None
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(InferenceRecord)) == 6
        first = s.scalars(select(InferenceRecord).where(InferenceRecord.timestamp == 100,
                                                        InferenceRecord.source == "api")).one()
        assert first.accepted and first.reason is None and first.signer == "0xabc"
        best = latest_accepted(s, 14)
        assert best is not None and best.timestamp == 200
        assert latest_accepted(s, 14, not_after_ms=2500) is not None
        assert latest_accepted(s, 14, source="rpc") is not None and latest_accepted(s, 99) is None
        ordered = [(r.fetched_at_ms, r.timestamp) for r in iter_for_replay(s, topic_id=14, batch_size=2)]
        assert ordered == [(1000, 100), (1000, 100), (2000, None), (2000, None), (3000, 200)]
        window = [r.fetched_at_ms for r in iter_for_replay(s, start_ms=2000, end_ms=4000)]
        assert window == [2000, 2000, 3000]
        assert [r.timestamp for r in iter_for_replay(s, accepted_only=True, source="api")] == [100, 200, 300]


def test_replay_reproduces_fetches_byte_for_byte(env: Env, db: sessionmaker[Session]) -> None:
    config = env.config()
    journal = InferenceJournal(db)
    fetched: list[FetchResult] = []
    with ApiSource(config, clock=env.clock, timeout=2.0) as api, ChainSource(config, clock=env.clock, timeout=2.0) as rpc:
        for step in range(3):
            if step == 1:
                env.running.control.inject("http_429", route="consumer", topic_id=14, times=1)
                env.running.control.inject("nan", route="chain", topic_id=77, times=1)
            for source in (api, rpc):
                for topic in TOPICS:
                    result = source.fetch(topic)
                    verdict = verify(result.inference, config, topic, env.clock()) if result.inference else None
                    assert journal.record(result, verdict)
                    fetched.append(result)
            env.clock.advance(300)
    assert {r.reason for r in fetched} == {None, RejectReason.HTTP_429, RejectReason.NOT_A_NUMBER}
    for topic in TOPICS:
        original = [r for r in fetched if r.topic_id == topic.topic_id]
        replayed = list(journal.replay(topic))
        assert replayed == original  # raw bytes, parsed inference, reason, status, block height
        assert all(a.raw == b.raw for a, b in zip(replayed, original, strict=True))

    replay = ReplaySource(db, clock=env.clock, source="api")
    env.clock.t = env.start + 300 + 1
    again = replay.fetch(LOG_RETURN)
    assert again.reason is RejectReason.HTTP_429
    assert again == [r for r in fetched if r.topic_id == 14 and r.source == "api"][1]
    env.clock.t = env.start - 1
    assert replay.fetch(LOG_RETURN).reason is RejectReason.UNAVAILABLE


def test_poller_over_replay_gives_the_live_signals(env: Env, db: sessionmaker[Session]) -> None:
    config = env.config()
    live_signals = []
    with ApiSource(config, clock=env.clock, timeout=2.0) as api:
        live = Poller(api, config, journal=InferenceJournal(db), clock=env.clock)
        for _ in range(3):
            live.poll(LOG_RETURN.name)
            live_signals.append(live.latest_signal(LOG_RETURN.name, Decimal(96000)))
            env.clock.advance(300)
    env.clock.t = env.start
    replayed = Poller(ReplaySource(db, clock=env.clock), config, clock=env.clock)
    for expected in live_signals:
        replayed.poll(LOG_RETURN.name)
        assert replayed.latest_signal(LOG_RETURN.name, Decimal(96000)) == expected
        env.clock.advance(300)
    restored = Poller(ApiSource(config, clock=env.clock), config, journal=InferenceJournal(db), clock=env.clock)
    restored.restore()
    latest = restored.latest_inference(LOG_RETURN.name)
    assert latest is not None and live_signals[-1] is not None and latest == live_signals[-1].inference
    restored.source.close()
