"""The inference trust model through the local Allora service and the real SDK clients (consumer API and emissions v10
chain queries): a rescaled, replayed or future-dated inference is refused; "chain" trust accepts only values the chain
confirms; "api-key-tls" accepts and labels the inference unverified. Nothing refused ever becomes a signal."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.allora.journal import InferenceJournal
from bot.allora.poller import Poller, PollOutcome
from bot.allora.reasons import RejectReason
from bot.allora.sources import ApiSource, ChainSource
from bot.config import AlloraConfig, SignatureConfig
from bot.store.inferences import InferenceRecord
from devkit.alloraservice import FaultKind
from tests.allora.conftest import LOG_RETURN, Env

TIMEOUT = 2.0


def _poller(env: Env, db: sessionmaker[Session], config: AlloraConfig) -> Iterator[Poller]:
    with ApiSource(config, clock=env.clock, timeout=TIMEOUT) as api, \
            ChainSource(config, clock=env.clock, timeout=TIMEOUT) as chain:
        yield Poller(api, config, journal=InferenceJournal(db), clock=env.clock, chain=chain.fetch)


def _reason(outcome: PollOutcome | None) -> RejectReason | None:
    assert outcome is not None
    if outcome.result.inference is None:
        return outcome.result.reason
    assert outcome.verdict is not None
    return outcome.verdict.reason


def _rows(db: sessionmaker[Session]) -> list[tuple[bool, str | None, str]]:
    with db() as session:
        return [(r.accepted, r.reason, r.detail or "") for r in session.scalars(select(InferenceRecord))]


@pytest.fixture
def signed(env: Env, db: sessionmaker[Session]) -> Iterator[Poller]:
    yield from _poller(env, db, env.config(topics=[LOG_RETURN]))


# the service clock starts 12 s after the latest inference; inferences come every 300 s (one epoch)
@pytest.mark.parametrize(("kind", "advance", "shift", "reason"), [
    (FaultKind.RESCALED, 0, 0, RejectReason.RESCALED),  # genuinely signed, token_decimals lowered: value x10
    (FaultKind.STALE, 0, 100, RejectReason.STALE),  # the previous epoch's, 312 s old: was accepted up to 600 s
    (FaultKind.FUTURE, 280, 10, RejectReason.FUTURE),  # the next epoch's, stamped 8 s ahead: was accepted up to 300 s
])
def test_genuinely_signed_but_unusable_inferences_are_refused(env: Env, db: sessionmaker[Session], signed: Poller,
                                                               kind: FaultKind, advance: int, shift: int,
                                                               reason: RejectReason):
    env.clock.advance(advance)
    env.running.control.inject(kind, route="consumer", times=1, shift_seconds=float(shift))
    assert _reason(signed.poll(LOG_RETURN.name)) is reason
    assert signed.latest_signal(LOG_RETURN.name, Decimal(60000)) is None  # no signal, so no bet
    env.clock.advance(1)
    assert _reason(signed.poll(LOG_RETURN.name)) is None  # the next genuine inference is accepted
    assert signed.latest_signal(LOG_RETURN.name, Decimal(60000)) is not None
    assert [row[:2] for row in _rows(db)] == [(False, reason.value), (True, None)]


@pytest.fixture
def chain_trust(env: Env, db: sessionmaker[Session]) -> Iterator[Poller]:
    topic = LOG_RETURN.model_copy(update={"trust": "chain"})
    # no trusted signer at all, as on the real network: the chain is what vouches for the value
    config = env.config(topics=[topic], signature=SignatureConfig(required=True, trusted_signers=[]),
                        emissions_version="v10")
    yield from _poller(env, db, config)


def test_chain_trust_accepts_what_the_chain_confirms(env: Env, db: sessionmaker[Session], chain_trust: Poller):
    assert _reason(chain_trust.poll(LOG_RETURN.name)) is None
    assert chain_trust.latest_signal(LOG_RETURN.name, Decimal(60000)) is not None
    (accepted, _, detail), = _rows(db)
    assert accepted and detail.startswith("chain-confirmed: api ")


def test_chain_trust_refuses_a_value_the_chain_does_not_hold(env: Env, db: sessionmaker[Session],
                                                            chain_trust: Poller):
    env.running.control.inject(FaultKind.TAMPERED, route="consumer", times=1)  # the API value moved by 1 %
    assert _reason(chain_trust.poll(LOG_RETURN.name)) is RejectReason.CHAIN_DISAGREES
    env.clock.advance(1)
    env.running.control.inject(FaultKind.HTTP_500, route="chain", times=1)  # the chain cannot be read: no trust
    assert _reason(chain_trust.poll(LOG_RETURN.name)) is RejectReason.UNVERIFIABLE
    assert chain_trust.latest_signal(LOG_RETURN.name, Decimal(60000)) is None
    assert [row[:2] for row in _rows(db)] == [(False, "chain-disagrees")]  # one inference, logged once


def test_api_key_tls_is_an_explicit_opt_in_labelled_unverified(env: Env, db: sessionmaker[Session]):
    topic = LOG_RETURN.model_copy(update={"trust": "api-key-tls"})
    config = env.config(topics=[topic], signature=SignatureConfig(required=True, trusted_signers=[]))
    for poller in _poller(env, db, config):
        env.running.control.inject(FaultKind.WRONG_SIGNER, route="consumer", times=1)  # signatures are not the test
        assert _reason(poller.poll(LOG_RETURN.name)) is None
    (accepted, _, detail), = _rows(db)
    assert accepted and detail.startswith("unverified")


def _config_check(tmp_path: Path, allora: dict) -> subprocess.CompletedProcess[str]:
    tree = {"database_url": f"sqlite:///{tmp_path / 'bot.db'}",
            "chains": {"dev": {"chain_id": 31337, "rpc_urls": ["http://127.0.0.1:9"]}},
            "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": "0x" + "ab" * 20, "topic": "btc"}],
            "allora": allora}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tree))
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLORA_BOT")}
    return subprocess.run([sys.executable, str(root / "main.py"), "-c", str(cfg), "config", "check"],  # noqa: S603
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_config_check_says_plainly_when_a_config_can_never_bet(tmp_path):
    topic = {"name": "btc", "topic_id": 14}
    # the shipped BSC config's old shape: signatures required, no trusted signer
    done = _config_check(tmp_path, {"signature": {"required": True, "trusted_signers": []}, "topics": [topic]})
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "market m1 can never bet: topic btc trusts signatures, but allora.signature.trusted_signers is empty" \
        in done.stderr and "fix: set allora.topics[btc].trust: chain" in done.stderr
    assert "config OK" not in done.stdout
    # chain trust without a node to ask
    done = _config_check(tmp_path, {"topics": [{**topic, "trust": "chain"}]})
    assert done.returncode == 3 and "allora.rpc_url is not set" in done.stderr
    # chain trust with a node: OK, and the trust model is shown
    done = _config_check(tmp_path, {"rpc_url": "rest+http://127.0.0.1:9", "topics": [{**topic, "trust": "chain"}]})
    assert done.returncode == 0, done.stderr
    assert "topic btc: trust chain; replay window 300 s, future skew 5 s, max |log-return| 0.012" in done.stdout
    done = _config_check(tmp_path, {"topics": [{**topic, "trust": "api-key-tls"}]})
    assert done.returncode == 0 and "UNVERIFIED" in done.stdout
