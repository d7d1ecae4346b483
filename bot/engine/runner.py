"""Run a built daemon until it is told to stop. The wiring (markets, executor, poller, reconcilers, API, notifiers)
is the composition root's job: ``bot.app.build_runtime`` returns the ``Runtime`` this module runs.

The engine never imports the composition root (``tests/test_structure.py``)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.engine.daemon import Daemon
from bot.errors import one_line

log = logging.getLogger(__name__)


class Service(Protocol):
    """Something that runs beside the daemon (the API server, the notifiers) and stops after it."""

    def close(self) -> None: ...


@dataclass
class Runtime:
    daemon: Daemon
    poller: Any
    reconcilers: list[Any] = field(default_factory=list)
    bus: Any = None  # bot.events.EventBus
    control: Any = None  # bot.engine.control.Control
    metrics: Any = None  # bot.metrics.Metrics
    api_url: str | None = None  # where the API, dashboard and /metrics are served (None: not enabled)
    notifiers: Any = None  # started with the daemon (``start``), closed after it
    services: list[Callable[[], None]] = field(default_factory=list)  # stopped after the daemon, last first
    stopping_hooks: list[Callable[[], None]] = field(default_factory=list)  # told first when the stop begins

    def start(self) -> None:
        """Start the notifiers (so they see DaemonStarted), then the daemon."""
        if self.notifiers is not None:
            self.notifiers.start()
        self.daemon.start()

    def stop(self) -> None:
        for hook in self.stopping_hooks:
            try:
                hook()
            except Exception as exc:  # noqa: BLE001 — stopping goes on
                log.warning("stop hook %s: %s", getattr(hook, "__qualname__", hook), one_line(exc))
        self.stopping_hooks.clear()
        self.daemon.stop()
        for stop in reversed(self.services):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 — stopping goes on
                log.warning("stopping %s: %s", getattr(stop, "__qualname__", stop), one_line(exc))
        self.services.clear()
        close = getattr(self.poller, "close", None) or getattr(getattr(self.poller, "source", None), "close", None)
        if callable(close):
            close()


def run_until_stopped(runtime: Runtime, *, max_rounds: int | None = None, install_signals: bool = True) -> None:
    """Start the daemon and block until SIGINT/SIGTERM (clean stop) or ``max_rounds`` rounds were seen."""
    stop = threading.Event()
    if install_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    try:
        runtime.start()
        while not stop.wait(0.5):
            if max_rounds is not None and runtime.daemon.stats.rounds_seen > max_rounds:
                break
    finally:
        runtime.stop()
