"""Capture the raw HTTP bodies the SDK clients receive, so the inference log can keep payloads verbatim.

The SDK parses responses itself and drops the bytes. We hand its REST sessions an httpx response hook (and the
consumer API client a fetcher) that note every body in a context-local sink: concurrent fetches never mix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

from bot.allora.parsing import MAX_PAYLOAD_BYTES, json_depth_ok
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
    if len(body) > MAX_PAYLOAD_BYTES or not json_depth_ok(body):
        raise SourceError(RejectReason.MALFORMED, f"unsafe JSON body from {url} ({len(body)} bytes)", status=status,
                          raw=body[:MAX_PAYLOAD_BYTES])


async def httpx_response_hook(response: httpx.Response) -> None:
    await response.aread()
    note(str(response.url), response.status_code, response.content)
    check_body(str(response.url), response.status_code, response.content)


def last_body(sink: list[Captured], path_fragment: str) -> Captured | None:
    for item in reversed(sink):
        if path_fragment in item.url:
            return item
    return None
