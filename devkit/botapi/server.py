"""The local Telegram Bot API server and webhook receiver (see the package docstring)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_POLL_SECONDS = 5.0  # a long poll here waits at most this long (the real server: up to 50 s)


@dataclass(frozen=True)
class SentMessage:
    chat_id: str
    text: str
    at: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    """A threaded HTTP server on 127.0.0.1 (port 0: a free one), started by ``start`` / the context manager."""

    def __init__(self, port: int = 0) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — the base class's name
                return None  # quiet; requests are recorded instead

            def do_GET(self) -> None:
                owner._dispatch(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                owner._dispatch(self, self.rfile.read(length) if length else b"")

        self._httpd = _Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=type(self).__name__, daemon=True)
        self.lock = threading.Condition()
        self.fail_with: int | None = None  # answer every request with this HTTP status
        self.requests = 0

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> _Base:
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        with self.lock:
            self.lock.notify_all()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dispatch(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        with self.lock:
            self.requests += 1
            failing = self.fail_with
        if failing is not None:
            _reply(handler, failing, {"ok": False, "error_code": failing, "description": "failing on purpose",
                                      "parameters": {"retry_after": 1}})
            return
        status, payload = self.handle(handler, body)
        _reply(handler, status, payload)

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any]:
        raise NotImplementedError


def _reply(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:
        pass  # the client went away (a long poll cut short)


def _params(handler: BaseHTTPRequestHandler, body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(urlsplit(handler.path).query))
    kind = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
    if body and kind == "application/json":
        loaded = json.loads(body)
        if isinstance(loaded, dict):
            params.update(loaded)
    elif body:
        params.update(parse_qsl(body.decode()))
    return params


class BotApiServer(_Base):
    """Telegram Bot API routes for one bot token (others get 401)."""

    def __init__(self, token: str, port: int = 0) -> None:
        super().__init__(port)
        self.token = token
        self.sent: list[SentMessage] = []
        self.updates: list[dict[str, Any]] = []
        self.polls = 0
        self._next_update = 1
        self._next_message = 1

    @property
    def api_base(self) -> str:
        """What the bot's ``notify.telegram.api_base`` points at (the real one: https://api.telegram.org)."""
        return self.base_url

    def push_text(self, chat_id: int, text: str, *, user_id: int | None = None) -> int:
        """A user writes ``text`` in chat ``chat_id``: queued as an update for getUpdates; returns its update_id."""
        with self.lock:
            update_id = self._next_update
            self._next_update += 1
            self.updates.append({
                "update_id": update_id,
                "message": {
                    "message_id": self._next_message, "date": int(time.time()), "text": text,
                    "chat": {"id": chat_id, "type": "private"},
                    "from": {"id": user_id or chat_id, "is_bot": False, "first_name": "tester"},
                },
            })
            self._next_message += 1
            self.lock.notify_all()
            return update_id

    def texts(self, chat_id: int | None = None) -> list[str]:
        with self.lock:
            return [m.text for m in self.sent if chat_id is None or m.chat_id == str(chat_id)]

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> list[SentMessage]:
        """Block until ``predicate(sent_messages)`` is true (or raise ``TimeoutError`` with what was sent)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(list(self.sent)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"not seen in {timeout} s; sent so far: {[m.text for m in self.sent]}")
                self.lock.wait(min(left, 0.5))
            return list(self.sent)

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any]:
        path = urlsplit(handler.path).path
        prefix, _, method = path.lstrip("/").partition("/")
        if prefix != f"bot{self.token}":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        try:
            params = _params(handler, body)
        except (ValueError, UnicodeDecodeError):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: can't parse JSON"}
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "local", "username": "local_bot"}}
        if method == "sendMessage":
            return self._send_message(params)
        if method == "getUpdates":
            return self._get_updates(params)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def _send_message(self, params: dict[str, Any]) -> tuple[int, Any]:
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id in (None, "") or not text:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
        with self.lock:
            message_id = self._next_message
            self._next_message += 1
            self.sent.append(SentMessage(str(chat_id), str(text), time.time()))
            self.lock.notify_all()
        return 200, {"ok": True, "result": {"message_id": message_id, "date": int(time.time()), "text": text,
                                            "chat": {"id": int(chat_id), "type": "private"}}}

    def _get_updates(self, params: dict[str, Any]) -> tuple[int, Any]:
        try:
            offset = int(params.get("offset") or 0)
            timeout = min(float(params.get("timeout") or 0), MAX_POLL_SECONDS)
        except ValueError:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: wrong parameter"}
        deadline = time.monotonic() + timeout
        with self.lock:
            self.polls += 1
            if offset:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed: forgotten
            while not self.updates and time.monotonic() < deadline and self.fail_with is None:
                self.lock.wait(min(deadline - time.monotonic(), 0.25))
            return 200, {"ok": True, "result": list(self.updates[:100])}


class WebhookReceiver(_Base):
    """Records the JSON bodies POSTed to it (any path); answers 204 like Discord."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []

    def url(self, path: str = "/hooks/test") -> str:
        return self.base_url + path

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(list(self.received)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"not seen in {timeout} s; received so far: {self.received}")
                self.lock.wait(min(left, 0.5))
            return list(self.received)

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any]:
        if handler.command != "POST":
            return 405, {"message": "405: Method Not Allowed"}
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return 400, {"message": "Cannot send an empty message"}
        if not isinstance(payload, dict):
            return 400, {"message": "body must be a JSON object"}
        with self.lock:
            self.received.append(payload)
            self.paths.append(urlsplit(handler.path).path)
            self.lock.notify_all()
        return 200, {}
