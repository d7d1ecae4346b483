"""Sending off the bet path: one background thread and one bounded queue per channel, with a token-bucket rate limit.

``Outbox.offer(text)`` never blocks and never raises: a full queue or an exhausted rate drops the message (counted in
``dropped_full`` / ``dropped_rate``); a channel that fails (down, refused) loses the message (``failed``) — each cause
warned about once per outage, then at debug level — and the thread goes on. Nothing here can crash the daemon.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.notify.channels import Channel, ChannelError

log = logging.getLogger(__name__)
_STOP = object()


class RateLimiter:
    """Token bucket: ``burst`` messages at once, then ``per_minute`` a minute. ``clock`` is injectable for tests."""

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


@dataclass
class OutboxStats:
    offered: int = 0
    sent: int = 0
    failed: int = 0
    dropped_rate: int = 0
    dropped_full: int = 0


class Outbox:
    def __init__(self, channel: Channel, limiter: RateLimiter, *, queue_size: int = 200) -> None:
        self.channel = channel
        self.limiter = limiter
        self.stats = OutboxStats()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name=f"notify-{channel.name}", daemon=True)
        self._failing = False
        self._rate_warned = False
        self._idle = threading.Event()
        self._idle.set()

    def start(self) -> Outbox:
        self._thread.start()
        return self

    def offer(self, text: str, *, urgent: bool = False) -> bool:
        """Queue ``text`` for sending; False when dropped. ``urgent`` messages (needs a human, halts) skip the rate."""
        self.stats.offered += 1
        if not urgent and not self.limiter.allow():
            self.stats.dropped_rate += 1
            level = logging.DEBUG if self._rate_warned else logging.WARNING
            self._rate_warned = True
            log.log(level, "%s: rate limit reached, message dropped (%d dropped so far)", self.channel.name,
                    self.stats.dropped_rate)
            return False
        try:
            self._idle.clear()
            self._queue.put_nowait(text)
            return True
        except queue.Full:
            self.stats.dropped_full += 1
            log.warning("%s: %d messages waiting, message dropped (%d so far)", self.channel.name,
                        self._queue.qsize(), self.stats.dropped_full)
            return False

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued was sent or failed (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._deliver(str(item))
            finally:
                self._queue.task_done()

    def _deliver(self, text: str) -> None:
        try:
            self.channel.send(text)
        except ChannelError as exc:
            self.stats.failed += 1
            log.log(logging.DEBUG if self._failing else logging.WARNING,
                    "%s: message lost (%s); %d lost so far", self.channel.name, exc, self.stats.failed)
            self._failing = True
            return
        except Exception as exc:  # noqa: BLE001 — a notifier bug must never reach the daemon
            self.stats.failed += 1
            log.warning("%s: message lost (%s: %s)", self.channel.name, type(exc).__name__, exc)
            return
        if self._failing:
            log.warning("%s: delivering again (%d messages were lost)", self.channel.name, self.stats.failed)
        self._failing = False
        self.stats.sent += 1
