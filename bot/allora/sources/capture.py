"""Capture the raw HTTP bodies the SDK clients receive, so the inference log can keep payloads verbatim.

The SDK parses responses itself and drops the bytes. We hand its REST sessions an httpx response hook (and the
consumer API client a fetcher) that note every body in a context-local sink: concurrent fetches never mix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx

from bot import wire
from bot.allora.reasons import RejectReason, SourceError


@dataclass(frozen=True, slots=True)
class Captured:
    url: str
    status: int
    body: bytes


_SINK: ContextVar[list[Captured] | None] = ContextVar("allora_http_capture", default=None)


@contextmanager
def capturing() -> Iterator[list[Captured]]:
    """Collect the bodies of every response received inside the block (in this task)."""
    sink: list[Captured] = []
    token = _SINK.set(sink)
    try:
        yield sink
    finally:
        _SINK.reset(token)


def note(url: str, status: int, body: bytes) -> None:
    sink = _SINK.get()
    if sink is not None:
        sink.append(Captured(url, status, body))


def check_body(url: str, status: int, body: bytes) -> None:
    """Refuse bodies that would crash or exhaust the JSON parser before anything (the SDK included) parses them."""
    try:
        wire.check(body, wire.ALLORA, f"body from {url}")
    except wire.UnsafeBody as exc:
        raise SourceError(RejectReason.MALFORMED, str(exc), status=status, raw=body[: wire.ALLORA.max_bytes]) from None


async def httpx_response_hook(response: httpx.Response) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > wire.ALLORA.max_bytes:  # refused before its bytes are read
        raise SourceError(RejectReason.MALFORMED, f"body from {response.url} declares {declared} bytes, more than "
                          f"the {wire.ALLORA.max_bytes}-byte limit", status=response.status_code)
    await response.aread()
    note(str(response.url), response.status_code, response.content)
    check_body(str(response.url), response.status_code, response.content)


async def open_bounded_session(query: Any, timeout: Any) -> None:
    """Give an SDK REST query client an entered HTTP session whose every body is bounded (``check_body``) before the
    SDK parses it. allora-sdk 1.3.0 creates the session but never enters it ("Session not initialized")."""
    import requests_async

    timing = {} if timeout is None else {"timeout": timeout}  # None: the library's default timeout
    query.session = requests_async.AsyncSession(event_hooks={"response": [httpx_response_hook]}, **timing)
    await query.session.__aenter__()


def last_body(sink: list[Captured], path_fragment: str) -> Captured | None:
    for item in reversed(sink):
        if path_fragment in item.url:
            return item
    return None
