"""systemd's notify protocol without a library: datagrams to ``$NOTIFY_SOCKET`` (``Type=notify`` units).

- ``ready()`` sends ``READY=1`` once the daemon runs; ``stopping()`` sends ``STOPPING=1`` when it begins to stop;
  ``watchdog()`` sends ``WATCHDOG=1`` (called from the daemon's scheduler: if its jobs stop running, the pings stop
  and systemd restarts the unit after ``WatchdogSec``); ``status(text)`` sets the unit's status line.
- ``watchdog_interval()``: half of ``$WATCHDOG_USEC`` in seconds (systemd's advice), None when no watchdog is set.
Without ``$NOTIFY_SOCKET`` (not under systemd) every call is a no-op returning False. An abstract socket is written
``@name``. A failed send is logged once and never raises: the bot must not stop because systemd went away.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)
_warned = False


def _address(env: Mapping[str, str]) -> str | None:
    addr = env.get("NOTIFY_SOCKET", "")
    if not addr or not (addr.startswith("/") or addr.startswith("@")):
        return None
    return "\0" + addr[1:] if addr.startswith("@") else addr


def notify(state: str, env: Mapping[str, str] | None = None) -> bool:
    """Send one state message (``READY=1``, ``WATCHDOG=1`` ...); True when it was sent."""
    global _warned
    addr = _address(os.environ if env is None else env)
    if addr is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(addr)
            sock.sendall(state.encode())
        return True
    except OSError as exc:
        if not _warned:
            log.warning("sd_notify: cannot write to NOTIFY_SOCKET (%s)", exc)
            _warned = True
        return False


def ready(status: str = "") -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog() -> bool:
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pings: half of ``WATCHDOG_USEC`` (only when ``WATCHDOG_PID`` is unset or ours)."""
    values = os.environ if env is None else env
    usec, pid = values.get("WATCHDOG_USEC", ""), values.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6
