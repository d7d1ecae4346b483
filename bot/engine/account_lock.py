"""One live sender per account: an exclusive, OS-level lock on (chain id, account).

A process that signs for an account — the daemon, ``bet --live``, ``claim --live`` — holds this lock for as long as it
may sign. A second such process finds it taken and refuses, naming the holder (``AccountBusy``, exit 4); a manual
bet then goes to the running daemon through the journal instead (see ``bot.engine.handoff``).

With SQLite the lock is ``flock`` on a file next to the database (``<db>.lock-<chain id>-<account>``): the kernel
drops it when the holder dies, however it dies (SIGKILL included), so there is no stale lock to clean up, and every
process that shares the database file shares the lock. The file holds the holder's description (pid, role, start
time) for the refusal message. Holding the lock is what makes a process the *owner* of the account's open intents:
a new holder may take over every intent it finds open, because the previous owner is gone (it would hold the lock).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import OperationalError


class AccountBusy(OperationalError):
    """Another live process holds the account: ``holder`` says who (pid, role, since)."""

    def __init__(self, chain_id: int, account: str, holder: dict[str, Any]) -> None:
        since = holder.get("since")
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(since))) if since else "unknown time"
        super().__init__(
            f"account {account} on chain {chain_id} is in use by another live process "
            f"({holder.get('role', 'unknown')}, pid {holder.get('pid', '?')}, since {when}): one live sender per account"
        )
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: the identity written into the intents this process owns."""

    pid: int
    role: str
    since: float

    @property
    def token(self) -> str:
        return f"{self.role}:{self.pid}:{self.since:.3f}"


def lock_path(database_url: str, chain_id: int, account: str) -> Path:
    """The lock file of (chain id, account) for a database (SQLite: beside the file; else under ``data/``)."""
    name = f"lock-{int(chain_id)}-{account.lower()}"
    if not re.fullmatch(r"lock-\d+-0x[0-9a-f]{40}", name):
        raise ValueError(f"not an account address: {account!r}")
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        db = Path(database_url.removeprefix("sqlite:///")).expanduser()
        return db.with_name(f".{db.name}.{name}")
    return Path("data") / f".{name}"


class AccountLock:
    """``with AccountLock(url, chain_id, account, role="daemon") as lock: ...`` — or ``acquire()``/``release()``."""

    def __init__(self, database_url: str, chain_id: int, account: str, role: str) -> None:
        self.path = lock_path(database_url, chain_id, account)
        self.chain_id = chain_id
        self.account = account
        self.holder = Holder(os.getpid(), role, time.time())
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> Holder:
        """Take the lock or raise ``AccountBusy`` at once (never waits)."""
        if self._fd is not None:
            return self.holder
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise AccountBusy(self.chain_id, self.account, holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": self.holder.pid, "role": self.holder.role, "since": self.holder.since,
                                 "token": self.holder.token}).encode())
        os.fsync(fd)
        self._fd = fd
        return self.holder

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __del__(self) -> None:  # an App dropped without release_locks (e.g. one CLI command after another in a test)
        self.release()

    def __enter__(self) -> AccountLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        value = json.loads(data.decode() or "{}")
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}
