"""Poller behaviour with a scripted source: backoff, de-dup, health, freshness, thread safety, never raising."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest

from bot.allora.backoff import Backoff
from bot.allora.factory import build_poller, build_source
from bot.allora.model import FetchResult, Inference
from bot.allora.poller import Poller
from bot.allora.reasons import RejectReason
from bot.allora.sources import ApiSource, ChainSource, ReplaySource
from bot.config import AlloraConfig, ConfigError, Settings, SignatureConfig
from tests.allora.conftest import LOG_RETURN, FakeClock

CONFIG = AlloraConfig(topics=[LOG_RETURN], signature=SignatureConfig(required=False), max_age_seconds=600)


class ScriptedSource:
    name = "rpc"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.script: list[Callable[[], FetchResult]] = []
        self.calls = 0

    def fetch(self, topic: object) -> FetchResult:
        self.calls += 1
        return self.script.pop(0)() if self.script else self.ok(int(self.clock()))

    def close(self) -> None:
        return None

    def ok(self, timestamp: int, value: str = "0.001") -> FetchResult:
        inference = Inference(topic_name=LOG_RETURN.name, topic_id=14, value=Decimal(value), decimals=18,
                              timestamp=timestamp, source="rpc", raw=b"{}")
        return FetchResult(source="rpc", topic_name=LOG_RETURN.name, topic_id=14, fetched_at=self.clock(), raw=b"{}",
                           inference=inference)

    def fail(self, reason: RejectReason) -> Callable[[], FetchResult]:
        return lambda: FetchResult(source="rpc", topic_name=LOG_RETURN.name, topic_id=14, fetched_at=self.clock(),
                                   reason=reason, detail="scripted")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000_000.0)


def test_backoff_is_exponential_capped_and_seedable() -> None:
    backoff = Backoff(factor=2.0, cap_seconds=100.0)
    assert [backoff.delay(10, n) for n in range(1, 6)] == [20, 40, 80, 100, 100]
    jittered = Backoff(factor=2.0, cap_seconds=100.0, jitter=0.5)
    first = [jittered.delay(10, 2, random.Random(7)) for _ in range(3)]
    assert first == [jittered.delay(10, 2, random.Random(7)) for _ in range(3)]
    assert all(20 <= d <= 60 for d in (jittered.delay(10, 2, random.Random(s)) for s in range(50)))
    assert Backoff(cap_seconds=5.0).delay(10, 3) == 10  # never faster than the normal poll interval


def test_retryable_errors_back_off_and_success_resets(clock: FakeClock) -> None:
    source = ScriptedSource(clock)
    source.script = [source.fail(RejectReason.HTTP_429), source.fail(RejectReason.TIMEOUT),
                     source.fail(RejectReason.HTTP_5XX)]
    poller = Poller(source, CONFIG, clock=clock, backoff=Backoff(cap_seconds=1000))
    delays = []
    for _ in range(3):
        poller.poll_due()
        health = poller.health(LOG_RETURN.name)
        delays.append(health.next_poll_at - clock())
        assert poller.poll_due() == []  # not due yet
        clock.t = health.next_poll_at
    assert delays == [60, 120, 240]
    health = poller.health(LOG_RETURN.name)
    assert health.consecutive_errors == 3 and health.reasons == {"http-429": 1, "timeout": 1, "http-5xx": 1}
    [outcome] = poller.poll_due()
    assert outcome.accepted
    health = poller.health(LOG_RETURN.name)
    assert health.consecutive_errors == 0 and health.last_success_at == clock() and health.healthy
    assert health.next_poll_at == clock() + LOG_RETURN.poll_seconds


def test_non_retryable_errors_keep_the_normal_interval(clock: FakeClock) -> None:
    source = ScriptedSource(clock)
    source.script = [source.fail(RejectReason.HTTP_401), source.fail(RejectReason.HTTP_401)]
    poller = Poller(source, CONFIG, clock=clock)
    poller.poll(LOG_RETURN.name)
    poller.poll(LOG_RETURN.name)
    health = poller.health(LOG_RETURN.name)
    assert health.next_poll_at == clock() + LOG_RETURN.poll_seconds and health.consecutive_errors == 2


def test_duplicates_and_freshness(clock: FakeClock) -> None:
    source = ScriptedSource(clock)
    stamp = int(clock())
    source.script = [lambda: source.ok(stamp), lambda: source.ok(stamp), lambda: source.ok(stamp - 300)]
    poller = Poller(source, CONFIG, clock=clock)
    assert poller.latest_signal(LOG_RETURN.name, Decimal(1)) is None
    first, second, older = (poller.poll(LOG_RETURN.name) for _ in range(3))
    assert first is not None and first.accepted
    assert second is not None and second.duplicate and older is not None and older.duplicate
    health = poller.health(LOG_RETURN.name)
    assert (health.accepted, health.duplicates, health.polls) == (1, 2, 3)
    signal = poller.latest_signal(LOG_RETURN.name, Decimal(1), now=stamp + 300)  # one epoch: the replay window
    assert signal is not None and signal.age_seconds == 300
    assert poller.latest_signal(LOG_RETURN.name, Decimal(1), now=stamp + 301) is None  # stale now
    assert poller.latest_signal(LOG_RETURN.name, Decimal(1), now=stamp - 6) is None  # from our future


def test_rejected_inference_never_becomes_the_signal(clock: FakeClock) -> None:
    source = ScriptedSource(clock)
    source.script = [lambda: source.ok(int(clock()), "NaN"), lambda: source.ok(int(clock()) - 5000)]
    poller = Poller(source, CONFIG, clock=clock)
    assert poller.poll(LOG_RETURN.name).verdict.reason is RejectReason.NOT_A_NUMBER  # type: ignore[union-attr]
    assert poller.poll(LOG_RETURN.name).verdict.reason is RejectReason.STALE  # type: ignore[union-attr]
    assert poller.latest_inference(LOG_RETURN.name) is None
    assert poller.latest_signal(LOG_RETURN.name, Decimal(1)) is None


def test_a_raising_source_does_not_escape(clock: FakeClock) -> None:
    source = ScriptedSource(clock)

    def boom() -> FetchResult:
        raise RuntimeError("bug in a source")

    source.script = [boom]
    poller = Poller(source, CONFIG, clock=clock)
    outcome = poller.poll(LOG_RETURN.name)
    assert outcome is not None and outcome.result.reason is RejectReason.INTERNAL
    assert poller.health(LOG_RETURN.name).last_error is RejectReason.INTERNAL
    with pytest.raises(ConfigError):
        poller.latest_signal("nope", Decimal(1))


def test_concurrent_polls_and_reads(clock: FakeClock) -> None:
    source = ScriptedSource(clock)
    poller = Poller(source, CONFIG, clock=clock)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(300):
                poller.latest_signal(LOG_RETURN.name, Decimal(1))
                poller.health_all()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(100):
        poller.poll(LOG_RETURN.name)
        clock.advance(1)
    for thread in threads:
        thread.join()
    assert not errors and poller.health(LOG_RETURN.name).accepted == 100


def test_factory_builds_from_settings(tmp_path: object) -> None:
    from bot.store.db import make_engine, session_factory

    factory = session_factory(make_engine("sqlite:///:memory:"))
    base = {"topics": [LOG_RETURN.model_dump()], "rpc_url": "rest+http://127.0.0.1:9"}
    api = build_source(AlloraConfig.model_validate({**base, "source": "api"}), environ={})
    rpc = build_source(AlloraConfig.model_validate({**base, "source": "rpc", "emissions_version": "v9"}))
    replay = build_source(AlloraConfig.model_validate({**base, "source": "replay"}), session_factory=factory)
    assert isinstance(api, ApiSource) and isinstance(rpc, ChainSource) and isinstance(replay, ReplaySource)
    api.close()
    rpc.close()
    with pytest.raises(ConfigError):
        build_source(AlloraConfig(source="replay"))
    settings = Settings.model_validate({"allora": {**base, "source": "replay"}})
    poller = build_poller(settings, factory, seed=1)
    assert poller.topic_names == [LOG_RETURN.name] and poller.journal is None
    outcome = poller.poll(LOG_RETURN.name)
    assert outcome is not None and outcome.result.reason is RejectReason.UNAVAILABLE
