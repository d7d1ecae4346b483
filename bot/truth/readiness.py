"""Is the truth service ready to answer a reputer, per topic? What ``GET /health`` reports.

A topic is ready when all of these hold:

- it has a value source: markets mapped to it (their rounds) or a price source for its asset;
- the Allora block-time source answers (a probe of its latest block, when it can say; cached ``PROBE_SECONDS``);
- its price source answers for a time long past (same cache), when it has one;
- the last ``/gt`` answer for it (within ``RECENT_SECONDS``) was not "source unavailable" (503);
- when the open reputer nonces are known (``bot.truth.warm``): the oldest open nonce has its value (or is known never
  to have one, 404) — a reputer that submits nonces strictly oldest first is blocked by anything else.

``/health`` answers 200 with ``"status": "ok"`` only when every topic is ready, else 503 with ``"not ready"`` and each
topic's reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.truth.groundtruth import GroundTruthResolver
from bot.truth.topics import TopicSpec

PROBE_SECONDS = 10.0
RECENT_SECONDS = 600.0
PROBE_TIMEOUT = 20.0  # the first call also builds the SDK client (seconds of CPU on a busy machine)


@dataclass
class Answer:
    block: int
    status: int
    reason: str
    at: float


@dataclass
class NonceState:
    """The warmer's view of a topic: open reputer nonces (oldest first) and the answer for the oldest one."""

    open_nonces: tuple[int, ...] = ()
    oldest_status: int | None = None  # 200 value ready, 404 never, 425 not final yet, 503 source down
    oldest_reason: str = ""
    error: str = ""  # the open nonces could not be read
    at: float = 0.0


@dataclass
class Readiness:
    """Per-topic answers and probes, shared by the service's handlers and the warmer."""

    resolver: GroundTruthResolver
    clock: Callable[[], float] = time.time
    answers: dict[int, Answer] = field(default_factory=dict)
    nonces: dict[int, NonceState] = field(default_factory=dict)
    _probes: dict[str, tuple[float, str]] = field(default_factory=dict)

    def record(self, topic_id: int, block: int, status: int, reason: str = "") -> None:
        self.answers[topic_id] = Answer(block, status, reason, self.clock())

    async def _probe(self, key: str, check: Callable[[], Any]) -> str:
        """'' when ``check`` succeeds, else the reason; cached for ``PROBE_SECONDS``."""
        now = self.clock()
        cached = self._probes.get(key)
        if cached is not None and now - cached[0] < PROBE_SECONDS:
            return cached[1]
        try:
            await asyncio.wait_for(check(), PROBE_TIMEOUT)
            reason = ""
        except Exception as exc:  # any failure of a dependency is "not ready", with its reason
            reason = f"{key}: {type(exc).__name__}: {str(exc)[:160]}"
        self._probes[key] = (now, reason)
        return reason

    async def topic(self, spec: TopicSpec) -> dict[str, Any]:
        r = self.resolver
        reasons: list[str] = []
        price = r.prices.get(spec.asset.upper())
        if price is None and not spec.markets:
            reasons.append(f"no value source: no market mapped to the topic and no price source for {spec.asset}")
        latest = getattr(getattr(r.block_times, "inner", r.block_times), "latest_height", None)  # past any cache
        if callable(latest):
            found = await self._probe("allora block times", latest)
            if found:
                reasons.append(found)
        if price is not None:
            long_past = int(self.clock()) - spec.horizon_seconds - 3600
            found = await self._probe(f"price source {price.label}", lambda: price.price_at(long_past))
            if found:
                reasons.append(found)
        last = self.answers.get(spec.topic_id)
        if last is not None and last.status >= 500 and self.clock() - last.at < RECENT_SECONDS:
            reasons.append(f"last /gt (block {last.block}) answered {last.status}: {last.reason}")
        body: dict[str, Any] = {
            "topic_id": spec.topic_id, "name": spec.name, "kind": spec.kind, "horizon_seconds": spec.horizon_seconds,
            "asset": spec.asset, "markets": list(spec.markets),
            "last_answer": None if last is None else {"block": last.block, "status": last.status,
                                                      "reason": last.reason, "at": last.at},
        }
        state = self.nonces.get(spec.topic_id)
        if state is not None:
            oldest = state.open_nonces[0] if state.open_nonces else None
            body["open_nonces"] = list(state.open_nonces)
            body["oldest_open_nonce"] = oldest
            body["oldest_status"] = state.oldest_status
            if state.error:
                reasons.append(f"open reputer nonces unreadable: {state.error}")
            elif oldest is not None and state.oldest_status not in (200, 404):
                reasons.append(f"oldest open nonce {oldest} answers {state.oldest_status}: {state.oldest_reason}")
        body["ready"] = not reasons
        body["reasons"] = reasons
        return body

    async def report(self) -> tuple[int, dict[str, Any]]:
        topics = [await self.topic(spec) for spec in self.resolver.topics.values()]
        ready = all(t["ready"] for t in topics)
        body = {"status": "ok" if ready else "not ready", "topics": topics,
                "price_sources": sorted(self.resolver.prices)}
        return (200 if ready else 503), body
