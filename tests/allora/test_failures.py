"""Every failure mode through the real SDK clients and the poller: no signal, a stored reason, no crash."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.allora.journal import InferenceJournal
from bot.allora.poller import Poller
from bot.allora.reasons import RejectReason
from bot.allora.sources import ApiSource, ChainSource
from bot.allora.sources.base import AsyncSource
from bot.config import TopicConfig
from bot.store.inferences import InferenceRecord
from devkit.alloraservice import FaultKind
from tests.allora.conftest import LOG_RETURN, PRICE, Env

API_CASES = [
    (FaultKind.HTTP_401, LOG_RETURN, RejectReason.HTTP_401),
    (FaultKind.HTTP_404, LOG_RETURN, RejectReason.HTTP_404),
    (FaultKind.HTTP_429, LOG_RETURN, RejectReason.HTTP_429),
    (FaultKind.HTTP_500, LOG_RETURN, RejectReason.HTTP_5XX),
    (FaultKind.TIMEOUT, LOG_RETURN, RejectReason.TIMEOUT),
    (FaultKind.STALE, LOG_RETURN, RejectReason.STALE),
    (FaultKind.FUTURE, LOG_RETURN, RejectReason.FUTURE),
    (FaultKind.NAN, LOG_RETURN, RejectReason.NOT_A_NUMBER),
    (FaultKind.NEGATIVE, PRICE, RejectReason.NEGATIVE_PRICE),
    (FaultKind.GARBAGE_JSON, LOG_RETURN, RejectReason.MALFORMED),
    (FaultKind.DEEP_JSON, LOG_RETURN, RejectReason.MALFORMED),
    (FaultKind.BAD_SIGNATURE, LOG_RETURN, RejectReason.BAD_SIGNATURE),
    (FaultKind.WRONG_SIGNER, LOG_RETURN, RejectReason.UNTRUSTED_SIGNER),
    (FaultKind.TAMPERED, LOG_RETURN, RejectReason.UNTRUSTED_SIGNER),
    (FaultKind.UNSIGNED, LOG_RETURN, RejectReason.UNSIGNED),
]
CHAIN_CASES = [
    (FaultKind.HTTP_404, LOG_RETURN, RejectReason.HTTP_404),
    (FaultKind.HTTP_429, LOG_RETURN, RejectReason.HTTP_429),
    (FaultKind.HTTP_500, LOG_RETURN, RejectReason.HTTP_5XX),
    (FaultKind.TIMEOUT, LOG_RETURN, RejectReason.TIMEOUT),
    (FaultKind.STALE, LOG_RETURN, RejectReason.STALE),
    (FaultKind.FUTURE, LOG_RETURN, RejectReason.FUTURE),
    (FaultKind.NAN, LOG_RETURN, RejectReason.NOT_A_NUMBER),
    (FaultKind.NEGATIVE, PRICE, RejectReason.NEGATIVE_PRICE),
    (FaultKind.GARBAGE_JSON, LOG_RETURN, RejectReason.MALFORMED),
    (FaultKind.DEEP_JSON, LOG_RETURN, RejectReason.MALFORMED),
]
TIMEOUT = 2.5  # generous: under a loaded CI machine a first chain query (client set-up included) takes >0.6 s


@pytest.fixture
def api_source(env: Env) -> Iterator[ApiSource]:
    with ApiSource(env.config(), clock=env.clock, timeout=TIMEOUT) as source:
        yield source


@pytest.fixture
def chain_source(env: Env) -> Iterator[ChainSource]:
    with ChainSource(env.config(emissions_version="v10"), clock=env.clock, timeout=TIMEOUT) as source:
        yield source


def run_case(env: Env, db: sessionmaker[Session], source: AsyncSource, route: str, kind: FaultKind,
             topic: TopicConfig, reason: RejectReason) -> None:
    poller = Poller(source, env.config(), journal=InferenceJournal(db), clock=env.clock)
    env.running.control.inject(kind, route=route, times=1, delay_seconds=TIMEOUT * 3)
    outcome = poller.poll(topic.name)
    assert outcome is not None
    got = outcome.verdict.reason if outcome.result.inference is not None and outcome.verdict else outcome.result.reason
    assert got is reason, (outcome.result.detail, outcome.verdict)
    assert poller.latest_signal(topic.name, Decimal(60000)) is None
    health = poller.health(topic.name)
    assert health.consecutive_errors == 1 and health.last_error is reason and health.reasons == {reason.value: 1}
    assert health.next_poll_at >= env.clock() + topic.poll_seconds
    with db() as session:
        rows = list(session.scalars(select(InferenceRecord)))
    assert [(r.reason, r.accepted) for r in rows] == [(reason.value, False)]
    # the fault was one-shot: the next poll recovers
    env.clock.advance(1)
    outcome = poller.poll(topic.name)
    assert outcome is not None
    assert outcome.accepted, (outcome.result.reason, outcome.result.detail, outcome.verdict)
    inference = poller.latest_inference(topic.name)
    assert inference is not None
    reference = inference.value if topic.kind == "price" else Decimal(60000)
    assert poller.latest_signal(topic.name, reference) is not None
    assert poller.health(topic.name).consecutive_errors == 0


@pytest.mark.parametrize(("kind", "topic", "reason"), API_CASES, ids=[c[0].value for c in API_CASES])
def test_api_failure(env: Env, db: sessionmaker[Session], api_source: ApiSource, kind: FaultKind, topic: TopicConfig,
                     reason: RejectReason) -> None:
    run_case(env, db, api_source, "consumer", kind, topic, reason)


@pytest.mark.parametrize(("kind", "topic", "reason"), CHAIN_CASES, ids=[c[0].value for c in CHAIN_CASES])
def test_chain_failure(env: Env, db: sessionmaker[Session], chain_source: ChainSource, kind: FaultKind,
                       topic: TopicConfig, reason: RejectReason) -> None:
    run_case(env, db, chain_source, "chain", kind, topic, reason)


def test_missing_api_key_is_http_401(env: Env, db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALLORA_API_KEY")
    with ApiSource(env.config(), clock=env.clock, timeout=TIMEOUT) as source:
        poller = Poller(source, env.config(), journal=InferenceJournal(db), clock=env.clock)
        outcome = poller.poll(LOG_RETURN.name)
    assert outcome is not None and outcome.result.reason is RejectReason.HTTP_401
    assert outcome.result.http_status == 401 and b"Unauthorized" in outcome.result.raw


def test_untrusted_when_no_signer_configured(env: Env, db: sessionmaker[Session]) -> None:
    config = env.config(signature={"required": True, "trusted_signers": []})
    with ApiSource(config, clock=env.clock, timeout=TIMEOUT) as source:
        outcome = Poller(source, config, clock=env.clock).poll(LOG_RETURN.name)
    assert outcome is not None and outcome.verdict is not None
    assert outcome.verdict.reason is RejectReason.UNTRUSTED_SIGNER


def test_absurd_jump_against_reference_price(env: Env, db: sessionmaker[Session]) -> None:
    with ChainSource(env.config(), clock=env.clock, timeout=TIMEOUT) as source:
        poller = Poller(source, env.config(), clock=env.clock, reference_price=lambda topic: Decimal(10))
        outcome = poller.poll(PRICE.name)
        assert outcome is not None and outcome.verdict is not None
        assert outcome.verdict.reason is RejectReason.ABSURD_JUMP
        fine = Poller(source, env.config(), clock=env.clock)
        assert fine.poll(PRICE.name) is not None
        assert fine.latest_signal(PRICE.name, Decimal(10)) is None  # checked again against the caller's price
        price = fine.latest_inference(PRICE.name)
        assert price is not None and fine.latest_signal(PRICE.name, price.value) is not None
