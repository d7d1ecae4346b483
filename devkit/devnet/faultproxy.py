"""A JSON-RPC fault-injection proxy for tests and the chaos run (loopback only).

``FaultProxy(upstream_url, seed=...)`` listens on a free ``127.0.0.1`` port in a background thread and forwards every
POST body to the upstream node (anvil), returning its answer. A ``FaultPlan`` — settable at runtime with
``set_plan`` or over HTTP (``POST /_faults`` with a JSON object of plan fields replaces the plan, omitted fields take
their defaults, plus optional ``"seed"`` and ``"reset_counters"``; ``GET /_faults`` reads plan and counters) — makes
a share of the requests fail in one of these ways:

- ``drop``: close the connection without answering;
- ``delay``: wait ``delay_ms`` (bounded), then answer normally;
- ``http_5xx`` / ``http_429``: an HTTP error status (429 with ``Retry-After``);
- ``malformed``: HTTP 200 with a body that is not a JSON-RPC answer (HTML, empty, wrong shape, not UTF-8);
- ``truncated``: the upstream answer cut in half (the declared length is the full one), then the connection closed;
- ``rpc_error``: an in-band JSON-RPC error ``-32005 limit exceeded`` (per item for batches);
- ``blackhole``: accept, never answer; the connection is closed after ``blackhole_timeout`` (bounded);
- ``deep``: HTTP 200 with a JSON-RPC answer whose ``result`` nests ``deep_levels`` arrays (~200 KB of brackets: the
  body that crashed a parser running under eth-account's raised recursion limit);
- ``huge``: HTTP 200 with a JSON-RPC answer of ``huge_bytes`` (more than any client limit; honest Content-Length);
- ``garbage``: answer ``garbage_status`` with ``garbage_body`` (for fuzzing clients).

``blackhole=True`` black-holes every request. Faults can be restricted to some JSON-RPC methods (``methods``), spare
others (``exclude_methods``) and spare batch requests (``batches=False``). Decisions come from an RNG seeded with
``seed``, so the same requests in the same order meet the same faults. ``counters()`` counts requests per outcome.

Chaos run, 30 % faults on the primary::

    with FaultProxy(anvil.url, seed=7) as primary:
        primary.set_plan(FaultPlan(rate=0.3, delay_ms=300, blackhole_timeout=5.0))
        ...  # ChainConfig(rpc_urls=[primary.url, anvil.url]); then primary.counters()
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import logging
import random
import socket
import sys
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

FAULT_KINDS: tuple[str, ...] = (
    "drop",
    "delay",
    "http_5xx",
    "http_429",
    "malformed",
    "truncated",
    "rpc_error",
    "blackhole",
    "deep",
    "huge",
)
GARBAGE = "garbage"
MAX_DELAY_MS = 10_000
MAX_BLACKHOLE_SECONDS = 60.0
MAX_DEEP_LEVELS = 1_000_000
MAX_HUGE_BYTES = 256 * 1024 * 1024
ADMIN_PATH = "/_faults"
LIMIT_EXCEEDED = {"code": -32005, "message": "limit exceeded"}
MALFORMED_BODIES: tuple[bytes, ...] = (
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b"",
    b'"ok"',
    b'{"jsonrpc": "2.0", "id": 1}',
    b'{"jsonrpc": "1.0", "id": 1, "result": "0x1"}',
    b'{"jsonrpc": "2.0", "id": 1, "error": "limit exceeded"}',
    b"\xff\xfe\x00garbage",
)


@dataclass(frozen=True)
class FaultPlan:
    """Which requests fail and how. The default plan injects nothing."""

    rate: float = 0.0  # share of eligible requests that get a fault
    kinds: tuple[str, ...] = FAULT_KINDS  # a faulted request gets one of these, drawn uniformly (repeat to weight)
    delay_ms: int = 200
    blackhole: bool = False  # black-hole every eligible request
    blackhole_timeout: float = 5.0  # seconds a black-holed connection is held before it is closed
    methods: frozenset[str] | None = None  # only these JSON-RPC methods are faulted (None: every method)
    exclude_methods: frozenset[str] = frozenset()
    batches: bool = True  # batch requests can be faulted (when any method in them is eligible)
    forward_faulted: bool = False  # a faulted request still reaches the upstream (the answer is what gets lost)
    status_5xx: int = 503
    garbage_body: bytes = b""
    garbage_status: int = 200
    deep_levels: int = 100_000
    huge_bytes: int = 20 * 1024 * 1024

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {self.rate}")
        unknown = set(self.kinds) - set(FAULT_KINDS) - {GARBAGE}
        if unknown or not self.kinds:
            raise ValueError(f"unknown or no fault kinds: {sorted(unknown)}")
        if not 0 <= self.delay_ms <= MAX_DELAY_MS:
            raise ValueError(f"delay_ms must be within [0, {MAX_DELAY_MS}]")
        if not 0.0 <= self.blackhole_timeout <= MAX_BLACKHOLE_SECONDS:
            raise ValueError(f"blackhole_timeout must be within [0, {MAX_BLACKHOLE_SECONDS}]")
        if not 1 <= self.deep_levels <= MAX_DEEP_LEVELS or not 1 <= self.huge_bytes <= MAX_HUGE_BYTES:
            raise ValueError(f"deep_levels must be within [1, {MAX_DEEP_LEVELS}], huge_bytes [1, {MAX_HUGE_BYTES}]")
        if not 500 <= self.status_5xx <= 599 or not 200 <= self.garbage_status <= 599:
            raise ValueError("status_5xx must be 5xx and garbage_status within [200, 599]")

    def eligible(self, methods: list[str], batch: bool) -> bool:
        """Whether a request carrying ``methods`` may be faulted."""
        if batch and not self.batches:
            return False
        if self.methods is None and not self.exclude_methods:
            return True
        return any((self.methods is None or m in self.methods) and m not in self.exclude_methods for m in methods)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultPlan:
        """A plan from JSON fields (lists for sets, a UTF-8 string for ``garbage_body``); unknown keys are errors."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown plan fields: {sorted(unknown)}")
        values = dict(data)
        if "kinds" in values:
            values["kinds"] = tuple(values["kinds"])
        if values.get("methods") is not None:
            values["methods"] = frozenset(values["methods"])
        if "exclude_methods" in values:
            values["exclude_methods"] = frozenset(values["exclude_methods"])
        if isinstance(values.get("garbage_body"), str):
            values["garbage_body"] = values["garbage_body"].encode()
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kinds"] = list(self.kinds)
        data["methods"] = None if self.methods is None else sorted(self.methods)
        data["exclude_methods"] = sorted(self.exclude_methods)
        data["garbage_body"] = self.garbage_body.decode(errors="replace")
        return data


@dataclass(frozen=True)
class Decision:
    kind: str | None  # None: forward untouched
    variant: int = 0  # which malformed body


@dataclass
class FaultInjector:
    """The seeded, thread-safe decision maker and its counters (no I/O)."""

    seed: int
    plan: FaultPlan = field(default_factory=FaultPlan)
    history_size: int = 10_000

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._counts: Counter[str] = Counter()
        self._history: deque[str] = deque(maxlen=self.history_size)

    def set_plan(self, plan: FaultPlan, *, reseed: bool = False) -> None:
        with self._lock:
            self.plan = plan
            if reseed:
                self._rng = random.Random(self.seed)

    def reseed(self, seed: int | None = None) -> None:
        with self._lock:
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed)
            self._history.clear()

    def decide(self, methods: list[str], batch: bool) -> tuple[FaultPlan, Decision]:
        with self._lock:
            plan = self.plan
            self._counts["requests"] += 1
            if batch:
                self._counts["batches"] += 1
            if not plan.eligible(methods, batch):
                return plan, Decision(None)
            if plan.blackhole:
                decision = Decision("blackhole")
            elif self._rng.random() < plan.rate:
                kind = plan.kinds[self._rng.randrange(len(plan.kinds))]
                variant = self._rng.randrange(len(MALFORMED_BODIES)) if kind == "malformed" else 0
                decision = Decision(kind, variant)
            else:
                decision = Decision(None)
            self._history.append(decision.kind or "ok")
            if decision.kind is not None:
                self._counts[decision.kind] += 1
                self._counts["faulted"] += 1
            return plan, decision

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def history(self) -> list[str]:
        """Outcome of every eligible request so far (fault kind or ``ok``), oldest first."""
        with self._lock:
            return list(self._history)

    def reset_counters(self) -> None:
        with self._lock:
            self._counts.clear()
            self._history.clear()


def deep_answer(rid: Any, levels: int) -> bytes:
    """A JSON-RPC answer, valid JSON, whose result nests ``levels`` arrays."""
    head = json.dumps({"jsonrpc": "2.0", "id": rid}).encode()[:-1]
    return head + b', "result": ' + b"[" * levels + b"]" * levels + b"}"


def huge_answer(rid: Any, size: int) -> bytes:
    """A JSON-RPC answer, valid JSON, of about ``size`` bytes (one long hex string)."""
    head = json.dumps({"jsonrpc": "2.0", "id": rid}).encode()[:-1] + b', "result": "0x'
    return head + b"0" * max(0, size - len(head) - 2) + b'"}'


def _methods_of(body: bytes) -> tuple[list[str], bool, list[Any]]:
    """(methods, is_batch, ids) of a JSON-RPC request body; unparseable bodies give ``([], False, [])``."""
    try:
        payload = json.loads(body)
    except ValueError:
        return [], False, []
    items = payload if isinstance(payload, list) else [payload]
    methods = [str(i.get("method")) for i in items if isinstance(i, dict)]
    ids = [i.get("id") for i in items if isinstance(i, dict)]
    return methods, isinstance(payload, list), ids


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy

    def process_request(self, request: Any, client_address: Any) -> None:
        self.proxy._track(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (e.g. one refusing a huge answer unread) is normal here, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("faultproxy: client %s hung up", client_address)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls
    timeout = 30  # idle keep-alive connections are closed after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        log.debug("faultproxy: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if self.path.rstrip("/") == ADMIN_PATH:
            self._send(200, json.dumps(self.server.proxy.status()).encode())
        else:
            self._send(404, b"not found")

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if proxy.stopping:
            self.close_connection = True
            return
        if self.path.rstrip("/") == ADMIN_PATH:
            self._admin(body)
            return
        methods, batch, ids = _methods_of(body)
        plan, decision = proxy.injector.decide(methods, batch)
        if decision.kind is None or decision.kind == "delay":
            if decision.kind == "delay":
                proxy.wait(plan.delay_ms / 1000)
            self._forward(body)
            return
        upstream: tuple[int, bytes] | None = None
        if plan.forward_faulted or decision.kind == "truncated":
            upstream = proxy.forward(body)
        self._fault(plan, decision, ids, batch, upstream)

    # -- answers --------------------------------------------------------------------------------------------------
    def _admin(self, body: bytes) -> None:
        proxy = self.server.proxy
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object of plan fields")
            seed = data.pop("seed", None)
            reset = bool(data.pop("reset_counters", False))
            proxy.set_plan(FaultPlan.from_json(data))
            if seed is not None:
                proxy.injector.reseed(int(seed))
            if reset:
                proxy.injector.reset_counters()
        except (ValueError, TypeError) as exc:
            self._send(400, json.dumps({"error": str(exc)}).encode())
            return
        self._send(200, json.dumps(proxy.status()).encode())

    def _forward(self, body: bytes) -> None:
        status, answer = self.server.proxy.forward(body)
        self._send(status, answer)

    def _fault(
        self, plan: FaultPlan, decision: Decision, ids: list[Any], batch: bool, upstream: tuple[int, bytes] | None
    ) -> None:
        kind = decision.kind
        if kind == "drop":
            self._abort()
        elif kind == "blackhole":
            self.server.proxy.wait(plan.blackhole_timeout)
            self._abort()
        elif kind == "http_5xx":
            self._send(plan.status_5xx, b"upstream unavailable")
        elif kind == "http_429":
            self._send(429, b'{"error": "too many requests"}', extra={"Retry-After": "1"})
        elif kind == "malformed":
            self._send(200, MALFORMED_BODIES[decision.variant])
        elif kind == "rpc_error":
            errors = [{"jsonrpc": "2.0", "id": i, "error": LIMIT_EXCEEDED} for i in (ids or [None])]
            self._send(200, json.dumps(errors if batch else errors[0]).encode())
        elif kind == "deep":
            self._send(200, deep_answer(ids[0] if ids else 1, plan.deep_levels))
        elif kind == "huge":
            self._send(200, huge_answer(ids[0] if ids else 1, plan.huge_bytes))
        elif kind == "truncated":
            status, answer = upstream or (200, b"{}")
            self._send(status, answer[: len(answer) // 2], declared=len(answer), close=True)
        else:  # garbage
            self._send(plan.garbage_status, plan.garbage_body, close=True)

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        declared: int | None = None,
        close: bool = False,
        extra: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            no_body = status in (204, 304)
            if not no_body:
                self.send_header("Content-Length", str(len(body) if declared is None else declared))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if not no_body:
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _abort(self) -> None:
        """Close the connection without a byte of answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class FaultProxy:
    """The proxy: ``with FaultProxy(anvil.url, seed=1) as proxy: ... proxy.url ...``."""

    def __init__(
        self,
        upstream_url: str,
        *,
        seed: int,
        plan: FaultPlan | None = None,
        port: int = 0,
        upstream_timeout: float = 30.0,
    ) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the fault proxy only forwards to a loopback http upstream, not {upstream_url}")
        self.upstream_url = upstream_url
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/")
        self.upstream_timeout = upstream_timeout
        self.injector = FaultInjector(seed, plan or FaultPlan())
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        self._local = threading.local()

    # -- lifecycle ------------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> FaultProxy:
        """Listen (on the same port as before, after a ``stop``) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stop.clear()
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.proxy = self
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"faultproxy-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving now: black-holed and delayed requests are released, open connections are cut."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stop.set()
        server.shutdown()
        server.server_close()
        with self._sockets_lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _track(self, sock: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets = {s for s in self._sockets if s.fileno() != -1}
            self._sockets.add(sock)

    # -- faults ---------------------------------------------------------------------------------------------------
    @property
    def plan(self) -> FaultPlan:
        return self.injector.plan

    def set_plan(self, plan: FaultPlan, *, reseed: bool = False) -> None:
        """Replace the plan (thread-safe); ``reseed`` restarts the seeded decision sequence."""
        self.injector.set_plan(plan, reseed=reseed)

    def clear(self) -> None:
        """No more faults (counters are kept)."""
        self.injector.set_plan(FaultPlan())

    def counters(self) -> dict[str, int]:
        """Requests seen, and per outcome: each fault kind, ``faulted``, ``forwarded``, ``upstream_error``."""
        return self.injector.counters()

    def history(self) -> list[str]:
        return self.injector.history()

    def reset_counters(self) -> None:
        self.injector.reset_counters()

    def status(self) -> dict[str, Any]:
        return {"plan": self.plan.to_json(), "counters": self.counters(), "seed": self.injector.seed}

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, or less if the proxy stops."""
        self._stop.wait(max(0.0, seconds))

    # -- upstream -------------------------------------------------------------------------------------------------
    def forward(self, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` to the upstream on this thread's keep-alive connection; (502, ...) if it cannot.

        A failure on a reused connection (closed by the upstream while idle) is retried once on a fresh one."""
        reused = getattr(self._local, "conn", None) is not None
        try:
            answer = self._post_upstream(body)
        except (OSError, http.client.HTTPException) as exc:
            if not reused or self.stopping:
                return self._upstream_failed(exc)
            try:
                answer = self._post_upstream(body)
            except (OSError, http.client.HTTPException) as again:
                return self._upstream_failed(again)
        self.injector.count("forwarded")
        return answer

    def _post_upstream(self, body: bytes) -> tuple[int, bytes]:
        host, port, path = self._upstream
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=self.upstream_timeout)
            self._local.conn = conn
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, response.read()
        except BaseException:
            conn.close()
            self._local.conn = None
            raise

    def _upstream_failed(self, exc: BaseException) -> tuple[int, bytes]:
        self.injector.count("upstream_error")
        return 502, json.dumps({"error": f"upstream: {type(exc).__name__}"}).encode()
