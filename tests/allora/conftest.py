"""Shared fixtures: one local Allora service (real routes, real SDK clients against it) on a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AlloraConfig, SignatureConfig, TopicConfig
from bot.store.db import make_engine, session_factory
from devkit.alloraservice import (
    DEFAULT_PRICES,
    AlloraService,
    EnsembleGenerator,
    PriceSeries,
    RunningService,
    ServiceConfig,
    default_topics,
    serve_in_thread,
)

API_KEY = "UP-local-test-key"


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Env:
    running: RunningService
    clock: FakeClock
    start: float

    @property
    def service(self) -> AlloraService:
        return self.running.service

    def config(self, **overrides: object) -> AlloraConfig:
        values: dict[str, object] = {
            "api_url": self.running.base_url,
            "rpc_url": self.running.rest_url,
            "topics": TOPICS,
            "signature": SignatureConfig(required=True, trusted_signers=[self.service.signer_address]),
        }
        values.update(overrides)
        return AlloraConfig.model_validate(values)


TOPICS = [
    TopicConfig(name="btc-lr", topic_id=14, kind="log-return", horizon_seconds=300, poll_seconds=30),
    TopicConfig(name="btc-price", topic_id=77, kind="price", horizon_seconds=300, poll_seconds=30),
    TopicConfig(name="btc-updown", topic_id=90, kind="classification", horizon_seconds=300, poll_seconds=30),
]
LOG_RETURN, PRICE, UPDOWN = TOPICS


@pytest.fixture(scope="session")
def series() -> PriceSeries:
    return PriceSeries.load_csv(DEFAULT_PRICES)


@pytest.fixture(scope="session")
def generator(series: PriceSeries) -> EnsembleGenerator:
    return EnsembleGenerator(series)  # service time == series time


@pytest.fixture(scope="session")
def _running(series: PriceSeries, generator: EnsembleGenerator) -> Iterator[tuple[RunningService, FakeClock, float]]:
    start = float(series.start + 3 * 86400 + 7)  # three days in: warmed up, 7 s after an epoch boundary
    clock = FakeClock(start)
    service = AlloraService(
        ServiceConfig(topics=default_topics(), genesis_time=series.start, api_keys=frozenset({API_KEY})),
        generator,
        clock=clock,
    )
    with serve_in_thread(service) as running:
        yield running, clock, start


@pytest.fixture
def env(_running: tuple[RunningService, FakeClock, float], monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    running, clock, start = _running
    monkeypatch.setenv("ALLORA_API_KEY", API_KEY)
    clock.t = start
    running.control.clear()
    yield Env(running, clock, start)
    running.control.clear()
    clock.t = start


@pytest.fixture
def db() -> sessionmaker[Session]:
    return session_factory(make_engine("sqlite:///:memory:"))
