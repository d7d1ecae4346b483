"""The ``InferenceSource`` interface, and the machinery SDK-backed sources share.

Sources are async inside (the SDK is asyncio) and expose a blocking ``fetch(topic)`` for APScheduler thread jobs:
each source owns one event loop on a daemon thread, so the SDK's HTTP sessions live on a single loop for their whole
life. ``fetch`` never raises: every failure comes back as a ``FetchResult`` with a ``RejectReason``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

import aiohttp
import httpx
import pydantic

from bot.allora.model import FetchResult, SourceName
from bot.allora.reasons import RejectReason, SourceError, reason_for_status
from bot.config import TopicConfig

log = logging.getLogger(__name__)
T = TypeVar("T")
Clock = Callable[[], float]


@runtime_checkable
class InferenceSource(Protocol):
    """Anything that can fetch the latest inference of a topic."""

    @property
    def name(self) -> str: ...

    def fetch(self, topic: TopicConfig) -> FetchResult:
        """The latest inference of ``topic`` (blocking; never raises)."""
        ...

    def close(self) -> None: ...


class LoopThread:
    """One asyncio event loop running on a daemon thread; ``run`` executes a coroutine on it from any thread."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"allora-{name}", daemon=True)
        self._thread.start()
        self._closed = False

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("event loop thread is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout}s") from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


def classify(exc: BaseException) -> tuple[RejectReason, int | None, str]:
    """Map SDK, HTTP and parsing exceptions to (reason, http status, detail) at the adapter edge."""
    if isinstance(exc, SourceError):
        return exc.reason, exc.status, exc.detail
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return reason_for_status(status), status, f"HTTP {status}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return reason_for_status(exc.status), exc.status, f"HTTP {exc.status}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | httpx.TimeoutException | aiohttp.ServerTimeoutError):
        return RejectReason.TIMEOUT, None, f"timeout ({type(exc).__name__})"
    if isinstance(exc, httpx.TransportError | aiohttp.ClientError | ConnectionError | OSError):
        return RejectReason.UNAVAILABLE, None, f"{type(exc).__name__}: {str(exc)[:160]}"
    grpc = _classify_grpc(exc)
    if grpc is not None:
        return grpc
    if isinstance(exc, pydantic.ValidationError | ValueError | TypeError | KeyError):
        return RejectReason.MALFORMED, None, f"{type(exc).__name__}: {str(exc)[:160]}"
    return RejectReason.INTERNAL, None, f"{type(exc).__name__}: {str(exc)[:160]}"


def _classify_grpc(exc: BaseException) -> tuple[RejectReason, int | None, str] | None:
    try:
        from grpclib.const import Status
        from grpclib.exceptions import GRPCError
    except ImportError:  # pragma: no cover - grpclib ships with allora-sdk
        return None
    if not isinstance(exc, GRPCError):
        return None
    mapping = {
        Status.NOT_FOUND: RejectReason.HTTP_404,
        Status.RESOURCE_EXHAUSTED: RejectReason.HTTP_429,
        Status.DEADLINE_EXCEEDED: RejectReason.TIMEOUT,
        Status.UNAVAILABLE: RejectReason.UNAVAILABLE,
        Status.UNAUTHENTICATED: RejectReason.HTTP_401,
        Status.PERMISSION_DENIED: RejectReason.HTTP_401,
        Status.INVALID_ARGUMENT: RejectReason.MALFORMED,
    }
    return mapping.get(exc.status, RejectReason.HTTP_5XX), None, f"gRPC {exc.status.name}: {exc.message or ''}"[:200]


class AsyncSource(ABC):
    """Base of the SDK-backed sources: ``fetch_async`` on the source's loop, ``fetch`` as the blocking facade."""

    name: SourceName

    def __init__(self, *, timeout: float, clock: Clock = time.time) -> None:
        self.timeout = timeout
        self.clock = clock
        self._loop = LoopThread(self.name)

    @abstractmethod
    async def _fetch(self, topic: TopicConfig, fetched_at: float) -> FetchResult:
        """Fetch and parse; may raise (``fetch_async`` turns exceptions into reasons)."""

    async def _aclose(self) -> None:  # noqa: B027 - optional hook
        """Close SDK sessions (runs on the source's loop)."""

    def failure(
        self, topic: TopicConfig, fetched_at: float, exc: BaseException, *, block_height: int | None = None
    ) -> FetchResult:
        reason, status, detail = classify(exc)
        raw = exc.raw if isinstance(exc, SourceError) else b""
        if reason is RejectReason.INTERNAL:
            log.error("allora %s: unexpected error fetching topic %s", self.name, topic.name, exc_info=exc)
        return FetchResult(
            source=self.name,
            topic_name=topic.name,
            topic_id=topic.topic_id,
            fetched_at=fetched_at,
            raw=raw,
            reason=reason,
            detail=detail,
            http_status=status,
            block_height=block_height,
        )

    async def fetch_async(self, topic: TopicConfig) -> FetchResult:
        fetched_at = self.clock()
        try:
            return await asyncio.wait_for(self._fetch(topic, fetched_at), self.timeout)
        except Exception as exc:  # the boundary: every failure becomes a typed reason
            return self.failure(topic, fetched_at, exc)

    def fetch(self, topic: TopicConfig) -> FetchResult:
        try:
            return self._loop.run(self.fetch_async(topic), timeout=self.timeout + 5.0)
        except Exception as exc:
            return self.failure(topic, self.clock(), exc)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run another coroutine of this source (metadata, history) on its loop; raises ``SourceError``."""
        try:
            return self._loop.run(asyncio.wait_for(coro, self.timeout), timeout=self.timeout + 5.0)
        except SourceError:
            raise
        except Exception as exc:
            reason, status, detail = classify(exc)
            raise SourceError(reason, detail, status=status) from exc

    def close(self) -> None:
        try:
            self._loop.run(self._aclose(), timeout=5.0)
        except Exception:  # closing is best effort
            log.debug("allora %s: error while closing", self.name, exc_info=True)
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
