"""Bounded parsing of every byte that comes from outside the process: one place for size and depth limits.

Contract: :func:`loads` parses a JSON body only after checking that it is at most ``limits.max_bytes`` long and nests
arrays/objects at most ``limits.max_depth`` deep; anything else raises :class:`UnsafeBody` (a ``ValueError``) and is
never handed to a JSON parser. :func:`read_capped` and :func:`read_capped_async` read an HTTP body and stop as soon as
it exceeds the limit, so a huge answer is refused without being held in memory. :func:`guard_ccxt` installs the same
check on a ccxt exchange object (its ``on_rest_response`` hook, which runs before ccxt parses a body).

Why: eth-account imports ``py_ecc``, which raises Python's recursion limit to 100000. ``json.loads`` on a ~200 KB body
of nested brackets then overflows the C stack and kills the process (SIGSEGV) instead of raising ``RecursionError``.
:func:`restore_recursion_limit` puts the limit back after that import (the bot uses no pairing code), and the depth
check keeps deep bodies away from the parser in any case.

Presets: ``RPC`` (EVM JSON-RPC answers: logs pages and batches are the largest), ``ALLORA`` (consumer API and chain
queries), ``SERVICE_REQUEST`` (bodies posted to our HTTP services: small), ``EXCHANGE`` (ccxt answers).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_RECURSION_LIMIT = 1000
_TOKENS = re.compile(rb'"(?:\\.|[^"\\])*"|[\[\]{}]')


@dataclass(frozen=True, slots=True)
class Limits:
    """The largest body (bytes) and the deepest nesting (arrays/objects) accepted from one source."""

    max_bytes: int
    max_depth: int


RPC = Limits(max_bytes=16 * 1024 * 1024, max_depth=64)
ALLORA = Limits(max_bytes=4 * 1024 * 1024, max_depth=64)
SERVICE_REQUEST = Limits(max_bytes=256 * 1024, max_depth=16)
EXCHANGE = Limits(max_bytes=8 * 1024 * 1024, max_depth=32)


class UnsafeBody(ValueError):
    """A body refused before parsing: too large or nested too deep. The message is one line and holds no body."""


def depth_ok(raw: bytes, limit: int) -> bool:
    """Whether ``raw`` nests at most ``limit`` arrays/objects deep (brackets inside strings do not count)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return True
    depth = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return False
        elif token in (b"]", b"}"):
            depth -= 1
    return True


def check(raw: bytes | str, limits: Limits, what: str = "body") -> bytes:
    """``raw`` as bytes if it is within ``limits``; :class:`UnsafeBody` otherwise."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > limits.max_bytes:
        raise UnsafeBody(f"{what} of {len(data)} bytes is larger than the {limits.max_bytes}-byte limit")
    if not depth_ok(data, limits.max_depth):
        raise UnsafeBody(f"{what} nests JSON deeper than {limits.max_depth} levels")
    return data


def loads(raw: bytes | str, limits: Limits, what: str = "body") -> Any:
    """Parse JSON after :func:`check`. ``ValueError`` for anything unusable (``UnsafeBody`` if refused unparsed)."""
    data = check(raw, limits, what)
    try:
        return json.loads(data)
    except RecursionError:  # unreachable with the depth check; kept so a parser change cannot crash us
        raise UnsafeBody(f"{what} nests JSON too deep") from None


class _RawStream(Protocol):
    def iter_content(self, chunk_size: int) -> Any: ...

    @property
    def headers(self) -> Any: ...


def _declared_too_large(headers: Any, limits: Limits, what: str) -> None:
    declared = headers.get("Content-Length") if headers is not None else None
    if declared is not None and str(declared).strip().isdigit() and int(declared) > limits.max_bytes:
        raise UnsafeBody(f"{what} declares {int(declared)} bytes, more than the {limits.max_bytes}-byte limit")


def read_capped(response: _RawStream, limits: Limits, what: str = "body") -> bytes:
    """Read a streamed ``requests`` response body, refusing it as soon as it exceeds ``limits.max_bytes``."""
    _declared_too_large(response.headers, limits, what)
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        total += len(chunk)
        if total > limits.max_bytes:
            raise UnsafeBody(f"{what} is larger than the {limits.max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_capped_async(response: Any, limits: Limits, what: str = "body") -> bytes:
    """The same for an ``aiohttp`` client response (``response.content`` is its stream)."""
    _declared_too_large(response.headers, limits, what)
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await response.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limits.max_bytes:
            raise UnsafeBody(f"{what} is larger than the {limits.max_bytes}-byte limit")
        chunks.append(chunk)


def guard_ccxt(exchange: Any, limits: Limits = EXCHANGE) -> Any:
    """Check every body ``exchange`` (sync or async ccxt) receives before ccxt parses it; returns ``exchange``.

    A refused body raises ``ccxt.BadResponse`` (an ``ExchangeError``), which the callers already treat as a failed
    request."""
    import ccxt

    original = exchange.on_rest_response

    def on_rest_response(code: Any, reason: Any, url: str, method: str, headers: Any, body: Any, *rest: Any) -> Any:
        if isinstance(body, str | bytes):
            try:
                check(body, limits, f"{getattr(exchange, 'id', 'exchange')} answer")
            except UnsafeBody as exc:
                raise ccxt.BadResponse(str(exc)) from None
        return original(code, reason, url, method, headers, body, *rest)

    exchange.on_rest_response = on_rest_response
    return exchange


def restore_recursion_limit(limit: int = DEFAULT_RECURSION_LIMIT) -> None:
    """Import ``py_ecc`` (which raises the recursion limit to 100000 as a side effect) and put the limit back."""
    import py_ecc  # noqa: F401 - imported for its side effect, which is undone below

    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)
