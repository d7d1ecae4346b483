"""uvicorn serving the API app in a background thread (its own event loop), on ``host:port`` (port 0: a free one).

``ApiServer.start()`` returns once the socket listens (``url`` then holds the bound address); ``stop()`` asks uvicorn
to exit and joins the thread. uvicorn installs no signal handlers outside the main thread, so the daemon's own
SIGINT/SIGTERM handling stays in charge."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import uvicorn

from bot.errors import OperationalError

log = logging.getLogger(__name__)


class ApiServer:
    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=2, server_header=False,
        ))
        self._thread = threading.Thread(target=self._server.run, name="api-server", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 15.0) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise OperationalError(f"the API server could not listen on {self.host}:{self.port} (address in use?)")
            if time.monotonic() > deadline:
                self.stop()
                raise OperationalError(f"the API server did not start on {self.host}:{self.port} in {timeout:.0f} s")
            time.sleep(0.02)
        servers = getattr(self._server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                self.port = int(sock.getsockname()[1])
                break
        log.info("API, dashboard and /metrics on %s", self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
