"""One live sender per account: an exclusive, OS-level lock on (chain id, account).

A process that signs for an account — the daemon, ``bet --live``, ``claim --live`` — holds this lock for as long as it
may sign. A second such process finds it taken and refuses, naming the holder (``AccountBusy``, exit 4); a manual
bet then goes to the running daemon through the journal instead (see ``bot.engine.handoff``).

With SQLite the lock is ``flock`` on a file next to the database (``<db>.lock-<chain id>-<account>``): the kernel
drops it when the holder dies, however it dies (SIGKILL included), so there is no stale lock to clean up, and every
process that shares the database file shares the lock. The file holds the holder's description (pid, role, start
time) for the refusal message. Holding the lock is what makes a process the *owner* of the account's open intents:
a new holder may take over every intent it finds open, because the previous owner is gone (it would hold the lock).

With PostgreSQL (several bots, maybe on several hosts, sharing one database) the lock is a session-level advisory lock,
``pg_try_advisory_lock(key)`` with a 64-bit key of (chain id, account), held on a connection of its own for as long
as the process holds the account; the server drops it when that connection ends (the process died, however). The
holder's description (role, pid, start time, host) is that connection's ``application_name``, so a refusal names the
live holder read from ``pg_locks`` / ``pg_stat_activity`` — never a stale record.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import socket
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
        host = f" on {holder['host']}" if holder.get("host") else ""
        super().__init__(
            f"account {account} on chain {chain_id} is in use by another live process "
            f"({holder.get('role', 'unknown')}, pid {holder.get('pid', '?')}{host}, since {when}): "
            "one live sender per account"
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


def _lock_name(chain_id: int, account: str) -> str:
    name = f"lock-{int(chain_id)}-{account.lower()}"
    if not re.fullmatch(r"lock-\d+-0x[0-9a-f]{40}", name):
        raise ValueError(f"not an account address: {account!r}")
    return name


def is_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgresql:", "postgresql+"))


def advisory_key(chain_id: int, account: str) -> int:
    """The signed 64-bit PostgreSQL advisory-lock key of (chain id, account)."""
    digest = hashlib.blake2b(_lock_name(chain_id, account).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_path(database_url: str, chain_id: int, account: str) -> Path:
    """The lock file of (chain id, account) for a database (SQLite: beside the file; else under ``data/``)."""
    name = _lock_name(chain_id, account)
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        db = Path(database_url.removeprefix("sqlite:///")).expanduser()
        return db.with_name(f".{db.name}.{name}")
    return Path("data") / f".{name}"


class AccountLock:
    """``with AccountLock(url, chain_id, account, role="daemon") as lock: ...`` — or ``acquire()``/``release()``."""

    def __init__(self, database_url: str, chain_id: int, account: str, role: str) -> None:
        self.chain_id = chain_id
        self.account = account
        self.holder = Holder(os.getpid(), role, time.time())
        self._fd: int | None = None
        self._pg: PgAccountLock | None = None
        if is_postgres(database_url):
            self._pg = PgAccountLock(database_url, advisory_key(chain_id, account), self.holder)
        else:
            self.path = lock_path(database_url, chain_id, account)

    @property
    def held(self) -> bool:
        return self._fd is not None or (self._pg is not None and self._pg.held)

    def acquire(self) -> Holder:
        """Take the lock or raise ``AccountBusy`` at once (never waits)."""
        if self._pg is not None:
            other = self._pg.try_take()
            if other is not None:
                raise AccountBusy(self.chain_id, self.account, other)
            return self.holder
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
        if self._pg is not None:
            self._pg.drop()
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


def _read_holder(fd: int, tries: int = 50) -> dict[str, Any]:
    """The holder's description; a holder that has just taken the lock writes it a moment later, so an empty or
    half-written file is read again (up to ``tries`` times, 1 ms apart) before giving up."""
    for attempt in range(tries):
        try:
            value = json.loads(os.pread(fd, 4096, 0).decode())
            if isinstance(value, dict) and value:
                return value
        except (OSError, ValueError):
            pass
        if attempt + 1 < tries:
            time.sleep(0.001)
    return {}


# take the lock, or read who holds it, in one statement (no round trip between the two for the holder to let go in)
TRY_LOCK = (
    "SELECT t.taken, CASE WHEN t.taken THEN NULL ELSE (SELECT a.application_name FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.classid::bigint = %(hi)s AND l.objid::bigint = %(lo)s "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1) END "
    "FROM (SELECT pg_try_advisory_lock(%(key)s) AS taken) t"
)
APP_PREFIX = "allora-bot"


class PgAccountLock:
    """The PostgreSQL form of the lock: ``pg_try_advisory_lock(key)`` on a dedicated connection kept open while held."""

    def __init__(self, database_url: str, key: int, holder: Holder) -> None:
        from psycopg.conninfo import make_conninfo  # imported here, not when the lock is contended
        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        params: dict[str, Any] = {k: v for k, v in url.query.items() if isinstance(v, str)}
        self.key = key
        self.holder = holder
        self._conninfo = make_conninfo("", host=url.host, port=url.port, user=url.username, password=url.password,
                                       dbname=url.database, application_name=self._application_name(), **params)
        self._conn: Any = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def _application_name(self) -> str:
        head = f"{APP_PREFIX}|{self.holder.role}|{self.holder.pid}|{self.holder.since:.3f}|"
        return head + socket.gethostname()[: max(0, 63 - len(head))]

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self._conninfo, autocommit=True)

    def try_take(self) -> dict[str, Any] | None:
        """Take the lock (None), or leave it and return the holder's description (``{}`` if it just let go)."""
        if self._conn is not None:
            return None
        conn = self._connect()
        try:
            taken, holder = conn.execute(TRY_LOCK, {"key": self.key, "hi": (self.key >> 32) & 0xFFFFFFFF,
                                                    "lo": self.key & 0xFFFFFFFF}).fetchone()
        except BaseException:
            conn.close()
            raise
        if taken:
            self._conn = conn
            return None
        conn.close()
        return parse_application_name(holder or "")

    def drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()  # ends the session: the server releases its advisory locks


def parse_application_name(name: str) -> dict[str, Any]:
    """The holder description a lock connection's ``application_name`` carries."""
    parts = name.split("|")
    if len(parts) != 5 or parts[0] != APP_PREFIX:
        return {}
    try:
        return {"role": parts[1], "pid": int(parts[2]), "since": float(parts[3]), "host": parts[4]}
    except ValueError:
        return {}
