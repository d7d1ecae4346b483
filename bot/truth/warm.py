"""Values ready for the oldest open reputer nonce first.

allora-sdk (>= 1.4) reputers submit a topic's open nonces strictly in order, oldest first: one epoch that never gets a
value blocks every later one. The warmer reads each topic's open reputer nonces from the Allora chain (emissions
``unfulfilled_reputer_nonces`` through allora-sdk's query client) and resolves them oldest first, so the value is
computed (and memoised by the resolver) before the reputer asks, and its readiness is known to ``/health``. Within a
topic it stops at the first nonce that is not final yet (425) or whose source is down (503): a newer epoch is never
worked on before an older one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from bot.allora.kinds import kind_of
from bot.truth.groundtruth import GroundTruthResolver, TruthError
from bot.truth.readiness import NonceState, Readiness

log = logging.getLogger(__name__)


class NonceSource(Protocol):
    async def open_nonces(self, topic_id: int) -> list[int]:
        """The topic's open reputer nonces (epoch-start Allora blocks), oldest first."""
        ...


class ChainNonces:
    """Open reputer nonces from an Allora node (``bot.allora.sources.chain.ChainSource``, on its own loop thread)."""

    def __init__(self, source: Any) -> None:
        self.source = source

    async def open_nonces(self, topic_id: int) -> list[int]:
        nonces: list[int] = await asyncio.to_thread(
            self.source.run, self.source.unfulfilled_reputer_nonces_async(topic_id))
        return sorted(nonces)

    def close(self) -> None:
        self.source.close()


class Warmer:
    def __init__(self, resolver: GroundTruthResolver, readiness: Readiness, nonces: NonceSource) -> None:
        self.resolver = resolver
        self.readiness = readiness
        self.nonces = nonces

    async def warm_topic(self, topic_id: int) -> NonceState:
        spec = self.resolver.topic(topic_id)
        now = self.readiness.clock()
        try:
            open_nonces = sorted(set(await self.nonces.open_nonces(topic_id)))
        except Exception as exc:  # the Allora node: any failure leaves the topic "not ready" with the reason
            state = NonceState(error=f"{type(exc).__name__}: {str(exc)[:160]}", at=now)
            self.readiness.nonces[topic_id] = state
            return state
        state = NonceState(open_nonces=tuple(open_nonces), at=now)
        for i, nonce in enumerate(open_nonces):
            try:
                await self.resolver.resolve(topic_id, nonce, need_direction=kind_of(spec.kind).multi_label)
                status, reason = 200, ""
            except TruthError as exc:
                status, reason = exc.http_status, exc.reason
            if i == 0:
                state.oldest_status, state.oldest_reason = status, reason
            if status in (425, 503) or status >= 500:
                break  # newer epochs wait for this one, as the reputer does
        self.readiness.nonces[topic_id] = state
        return state

    async def tick(self) -> None:
        for topic_id in list(self.resolver.topics):
            await self.warm_topic(topic_id)

    async def run(self, interval: float = 5.0) -> None:
        """Warm every ``interval`` seconds until cancelled."""
        while True:
            try:
                await self.tick()
            except Exception:  # never let the warmer die: /health shows what it could not do
                log.exception("truth warmer tick failed")
            await asyncio.sleep(interval)
