"""A background worker of the notification side: ``_run`` on a daemon thread until :meth:`Worker.close`."""

from __future__ import annotations

import threading


class Worker:
    """Subclasses implement ``_run`` (loop until ``self._stop`` is set) and start ``self._thread`` in their ``start``."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def close(self, timeout: float = 5.0) -> None:
        """Ask the loop to stop and wait up to ``timeout`` seconds for it (it never holds the process open)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
