"""Children stop with their parent: the process rules every devkit command follows.

- ``die_with_parent()``: a ``preexec_fn`` for ``subprocess.Popen`` that asks the Linux kernel to send the child SIGKILL
  when the thread that started it ends (``prctl(PR_SET_PDEATHSIG)``), so even a SIGKILL of the parent takes anvil
  down; it exits at once if the parent is already gone (the race between ``fork`` and ``prctl``). Elsewhere than
  Linux it only checks the parent. Start children from the main thread: the kernel ties the signal to the *thread*.
- ``keep_after_parent()``: clears that request (the devnet supervisor, once ``devnet up`` hands it over).
- ``stop_on_signals()``: SIGTERM and SIGINT raise :class:`Stopped` (a ``KeyboardInterrupt``) in the main thread, once;
  installed before the first child starts, so a ``with`` block / ``ExitStack`` unwinds and stops every child whatever
  the moment of start-up. Later signals while cleaning up are counted, not raised, so the clean-up itself finishes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

PR_SET_PDEATHSIG = 1


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGINT arrived: unwind and stop every child."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, resolved in the parent (a child between fork and exec must not load libraries)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fn: Callable[..., int] = libc.prctl
    return fn


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """``preexec_fn`` for a child that must not outlive the (thread of the) process starting it."""
    parent = os.getpid()
    prctl = _prctl()

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def keep_after_parent() -> None:
    """Undo ``die_with_parent`` in the calling process (it now outlives the process that started it)."""
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """SIGTERM/SIGINT raise :class:`Stopped` once in the main thread; yields the list of signals received."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise Stopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie we could reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
