"""Per-topic polling of an inference source: verify, log, de-duplicate, back off, keep health.

``Poller.poll`` never raises: every failure is a ``RejectReason`` in the log and in the topic's ``TopicHealth``.
``latest_signal`` is thread-safe and returns a ``Signal`` only from an accepted inference that is still fresh.
Use ``poll_due`` from a scheduler tick (e.g. an APScheduler interval job every second): it polls each topic whose
next poll time has come, honouring ``poll_seconds`` and the backoff after rate limits, 5xx and timeouts.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from bot.allora.backoff import Backoff
from bot.allora.journal import InferenceJournal
from bot.allora.model import FetchResult, Inference, Signal, Verdict
from bot.allora.normalise import to_signal
from bot.allora.reasons import RejectReason
from bot.allora.sources.base import InferenceSource
from bot.allora.trust import chain_agreement, jump_limit
from bot.allora.verify import check_time, predicted_jump, verify
from bot.config import AlloraConfig, ConfigError, TopicConfig

log = logging.getLogger(__name__)
ReferencePrice = Callable[[TopicConfig], Decimal | None]
ChainReader = Callable[[TopicConfig], FetchResult]  # the chain's latest network inference for a topic (never raises)


@dataclass(frozen=True, slots=True)
class TopicHealth:
    """A snapshot of one topic's polling health."""

    topic_name: str
    topic_id: int
    polls: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    consecutive_errors: int = 0
    last_success_at: float | None = None  # last poll that returned an inference (new or duplicate) and accepted it
    last_error_at: float | None = None
    last_error: RejectReason | None = None
    last_error_detail: str = ""
    last_inference_timestamp: int | None = None
    next_poll_at: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.consecutive_errors == 0 and self.last_success_at is not None


@dataclass(frozen=True, slots=True)
class PollOutcome:
    topic_name: str
    result: FetchResult
    verdict: Verdict | None
    duplicate: bool = False

    @property
    def accepted(self) -> bool:
        return self.verdict is not None and self.verdict.accepted and not self.duplicate


class _TopicState:
    def __init__(self, topic: TopicConfig) -> None:
        self.topic = topic
        self.lock = threading.Lock()  # one poll at a time per topic
        self.latest: Inference | None = None
        self.polls = self.accepted = self.rejected = self.duplicates = self.consecutive_errors = 0
        self.last_success_at: float | None = None
        self.last_error_at: float | None = None
        self.last_error: RejectReason | None = None
        self.last_error_detail = ""
        self.next_poll_at = 0.0
        self.reasons: Counter[str] = Counter()

    def snapshot(self) -> TopicHealth:
        return TopicHealth(
            topic_name=self.topic.name,
            topic_id=self.topic.topic_id,
            polls=self.polls,
            accepted=self.accepted,
            rejected=self.rejected,
            duplicates=self.duplicates,
            consecutive_errors=self.consecutive_errors,
            last_success_at=self.last_success_at,
            last_error_at=self.last_error_at,
            last_error=self.last_error,
            last_error_detail=self.last_error_detail,
            last_inference_timestamp=self.latest.timestamp if self.latest else None,
            next_poll_at=self.next_poll_at,
            reasons=dict(self.reasons),
        )


class Poller:
    """Polls every configured topic of one source."""

    def __init__(
        self,
        source: InferenceSource,
        config: AlloraConfig,
        *,
        journal: InferenceJournal | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        reference_price: ReferencePrice | None = None,
        topics: list[TopicConfig] | None = None,
        chain: ChainReader | None = None,
    ) -> None:
        self.source = source
        self.chain = chain  # confirms API inferences of "chain"-trust topics
        self.config = config
        self.journal = journal
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.reference_price = reference_price
        self._lock = threading.Lock()  # guards every _TopicState field except .lock
        self._topics = {t.name: _TopicState(t) for t in (topics if topics is not None else config.topics)}
        for topic in self._topics.values():
            if source.name != "api":
                continue
            if topic.topic.trust == "signature" and config.signature.required and not config.signature.trusted_signers:
                log.warning("allora %s: trusts signatures but no trusted signer is configured: nothing will be "
                            "accepted (see config check)", topic.topic.name)
            elif topic.topic.trust == "api-key-tls":
                log.warning("allora %s: trust api-key-tls: inferences are UNVERIFIED (no signature or chain check)",
                            topic.topic.name)

    def close(self) -> None:
        """Close the source and the chain reader (their HTTP sessions and event loops)."""
        owner = getattr(self.chain, "__self__", None)
        for closer in (getattr(self.source, "close", None), getattr(owner, "close", None)):
            if callable(closer):
                closer()

    # --- queries ---------------------------------------------------------------------------------------------------

    def _state(self, topic_name: str) -> _TopicState:
        try:
            return self._topics[topic_name]
        except KeyError:
            raise ConfigError(f"unknown topic {topic_name!r} (polled: {', '.join(self._topics) or 'none'})") from None

    @property
    def topic_names(self) -> list[str]:
        return list(self._topics)

    def health(self, topic_name: str) -> TopicHealth:
        with self._lock:
            return self._state(topic_name).snapshot()

    def health_all(self) -> dict[str, TopicHealth]:
        with self._lock:
            return {name: state.snapshot() for name, state in self._topics.items()}

    def latest_inference(self, topic_name: str) -> Inference | None:
        """The newest accepted inference, whatever its age."""
        with self._lock:
            return self._state(topic_name).latest

    def latest_signal(self, topic_name: str, reference_price: Decimal, now: float | None = None) -> Signal | None:
        """A signal from the newest accepted inference if it is still fresh at ``now`` and sane for this price."""
        state = self._state(topic_name)
        with self._lock:
            inference = state.latest
        if inference is None:
            return None
        at = self.clock() if now is None else now
        topic = state.topic
        if not check_time(inference, self.config, topic, at).accepted:
            return None
        jump = predicted_jump(inference, topic, reference_price)
        if jump is not None and jump > jump_limit(self.config, topic):
            log.warning("allora %s: |log-return| %.4f vs price %s: ignored", topic.name, jump, reference_price)
            return None
        try:
            return to_signal(inference, topic, reference_price, at)
        except (ValueError, ArithmeticError) as exc:
            log.warning("allora %s: no signal (%s)", topic.name, exc)
            return None

    # --- polling ---------------------------------------------------------------------------------------------------

    def restore(self) -> None:
        """Load the newest accepted inference of every topic from the log (after a restart)."""
        if self.journal is None:
            return
        for state in self._topics.values():
            inference = self.journal.latest_accepted(state.topic, source=self.source.name)
            if inference is not None:
                with self._lock:
                    if state.latest is None or inference.timestamp > state.latest.timestamp:
                        state.latest = inference

    def poll_due(self) -> list[PollOutcome]:
        """Poll every topic whose next poll time has come (never raises)."""
        now = self.clock()
        with self._lock:
            due = [name for name, state in self._topics.items() if state.next_poll_at <= now]
        outcomes = []
        for name in due:
            outcome = self.poll(name)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def poll(self, topic_name: str) -> PollOutcome | None:
        """Fetch, verify, log and remember one topic. ``None`` if a poll of this topic is already running."""
        state = self._state(topic_name)
        if not state.lock.acquire(blocking=False):
            return None
        try:
            return self._poll(state)
        except Exception as exc:  # never raise out of a poll
            log.exception("allora %s: poll failed", topic_name)
            result = FetchResult(
                source="rpc" if self.source.name == "rpc" else "api",
                topic_name=state.topic.name,
                topic_id=state.topic.topic_id,
                fetched_at=self.clock(),
                reason=RejectReason.INTERNAL,
                detail=f"{type(exc).__name__}: {exc}"[:200],
            )
            self._update(state, result, None, duplicate=False)
            return PollOutcome(topic_name, result, None)
        finally:
            state.lock.release()

    def _reference(self, topic: TopicConfig) -> Decimal | None:
        if self.reference_price is None:
            return None
        try:
            return self.reference_price(topic)
        except Exception:  # a missing price only skips the jump check
            log.warning("allora %s: reference price unavailable", topic.name, exc_info=True)
            return None

    def _poll(self, state: _TopicState) -> PollOutcome:
        topic = state.topic
        try:
            result = self.source.fetch(topic)
        except Exception as exc:  # sources should not raise; a broken one must not stop the poller
            result = FetchResult(
                source="rpc" if self.source.name == "rpc" else "api",
                topic_name=topic.name,
                topic_id=topic.topic_id,
                fetched_at=self.clock(),
                reason=RejectReason.INTERNAL,
                detail=f"source raised {type(exc).__name__}: {exc}"[:200],
            )
        inference = result.inference
        verdict: Verdict | None = None
        duplicate = False
        if inference is not None:
            with self._lock:
                latest = state.latest
            if latest is not None and inference.timestamp <= latest.timestamp and inference.source == latest.source:
                duplicate = True
                verdict = Verdict(signer=latest.signer)
            else:
                verdict = verify(inference, self.config, topic, self.clock(), reference_price=self._reference(topic))
                if verdict.accepted and inference.source == "api" and topic.trust == "chain":
                    verdict = self._confirm_on_chain(topic, inference)
        if not duplicate and self.journal is not None:
            self.journal.record(result, verdict)
        self._update(state, result, verdict, duplicate=duplicate)
        if not duplicate and verdict is not None and not verdict.accepted:
            stamp = inference.timestamp if inference else None
            log.info("allora %s: rejected inference ts=%s: %s %s", topic.name, stamp, verdict.reason, verdict.detail)
        elif inference is None:
            log.info("allora %s: fetch failed: %s %s", topic.name, result.reason, result.detail[:160])
        return PollOutcome(topic.name, result, verdict, duplicate)

    def _confirm_on_chain(self, topic: TopicConfig, inference: Inference) -> Verdict:
        """"chain" trust: the API value must agree with the chain's network inference for the topic."""
        if self.chain is None:
            return Verdict(RejectReason.UNVERIFIABLE, "trust chain, but no chain reader (allora.rpc_url unset)")
        result = self.chain(topic)
        if result.inference is None:
            return Verdict(RejectReason.UNVERIFIABLE, f"chain read failed: {result.reason} {result.detail[:120]}")
        return chain_agreement(inference, result.inference, topic)

    def _update(self, state: _TopicState, result: FetchResult, verdict: Verdict | None, *, duplicate: bool) -> None:
        now = self.clock()
        reason = result.reason if result.inference is None else (verdict.reason if verdict else None)
        with self._lock:
            state.polls += 1
            if duplicate:
                state.duplicates += 1
            if reason is None and result.inference is not None:
                if not duplicate:
                    state.accepted += 1
                    signer = verdict.signer if verdict else None
                    state.latest = replace(result.inference, signer=signer)
                state.consecutive_errors = 0
                state.last_success_at = now
                state.next_poll_at = now + state.topic.poll_seconds
                return
            reason = reason or RejectReason.INTERNAL
            state.rejected += 1
            state.reasons[reason.value] += 1
            state.last_error, state.last_error_at = reason, now
            detail = verdict.detail if verdict and result.inference is not None else result.detail
            state.last_error_detail = detail[:300]
            state.consecutive_errors += 1
            if reason.retryable:  # rate limit, 5xx, timeout, connection: back off exponentially
                delay = self.backoff.delay(state.topic.poll_seconds, state.consecutive_errors, self.rng)
            else:
                delay = state.topic.poll_seconds
            state.next_poll_at = now + delay
