"""The journal writes and reads on a bet's hot path, in plain SQL on a pooled DBAPI connection (no ORM).

Between a bet job's trigger and the raw transaction's hand-off the journal is touched three times: the risk snapshot
(an intent for the round? staked / realised today? losing streak?), the intent row (committed before anything is
signed, with the spending caps checked in the same transaction) and the signed attempt (committed before broadcast).
Through SQLAlchemy a single SELECT measured ~1.5 ms on a 2-core VM; here the whole snapshot measured 0.75 ms p50 and
the two commits 1.8–2.0 ms and 1.2–1.4 ms p50, fsync included (benchmarks/bench_latency.py phases).
The rows are the ORM models' rows (``bot.store.journal``, ``bot.store.outcomes``): tests/store/test_hotjournal.py
writes with one and reads with the other.

One static SQL text per statement, written for SQLite (``?`` and ``:name`` parameters) and run as is there, on the
pooled ``sqlite3`` connection (no wrapper on the default store's hot path). On PostgreSQL (psycopg 3) each text is
translated once per process (``pg_sql``: ``?`` -> ``%s``, ``:name`` -> ``%(name)s``, ``INSERT`` gains ``RETURNING id``,
read back as the cursor's ``lastrowid``) and run on a DBAPI connection from the engine's pool.

Every write holds the journal's write lock from its first statement to its commit, so a concurrent writer makes us wait,
never fail halfway, and the cap check, the uniqueness check and the insert see the same state: on SQLite
``BEGIN IMMEDIATE`` (the database's write lock; busy_timeout), on PostgreSQL ``pg_advisory_xact_lock`` of the
account the write is for (``account_write_key``; the journal-wide ``JOURNAL_LOCK_KEY`` for a write that names none)
as the transaction's first statement (released by the commit or rollback; READ COMMITTED then sees every write
committed before it). Both serialise the journal writers of one account, across processes and hosts: the daily cap
and the round's uniqueness are per account, and every other move is a conditional UPDATE of one row.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, cast

from sqlalchemy.engine import Engine

from bot.store.journal import IllegalTransition, IntentState, allowed_from

# Static SQL only (no string building). A stake counts as spent once signed (it may land) or paper-filled.
# The daily cap counts every stake that may still be signed or has been: in-flight intents included (an intended row
# is a stake about to be signed), so two intents committed together cannot pass the cap between them.
STAKED_SINCE = (
    "SELECT amount_wei FROM intents WHERE account = ? AND created_at >= ? AND id != ? "
    "AND state IN ('intended', 'signed', 'sent', 'landed', 'paper')"
)
ROUND_INTENT = "SELECT id, state FROM intents WHERE market = ? AND epoch = ? AND account = ?"
# The risk snapshot in one statement (one round trip on PostgreSQL instead of four): tagged rows, wei as exact text,
# summed in Python. i: this round's intent (id, state); s: a stake counted by the daily cap; p: a realised PnL since
# midnight; r: a recent result (epoch, status), newest first after sorting.
RISK_SNAPSHOT = (
    "SELECT 'i', CAST(id AS TEXT), state FROM intents WHERE market = ? AND epoch = ? AND account = ? "
    "UNION ALL SELECT 's', amount_wei, '' FROM intents WHERE account = ? AND created_at >= ? "
    "AND state IN ('intended', 'signed', 'sent', 'landed', 'paper') "
    "UNION ALL SELECT 'p', net_pnl_wei, '' FROM settlements WHERE account = ? AND settled_at >= ? AND mode = ? "
    "UNION ALL SELECT 'r', CAST(epoch AS TEXT), status FROM (SELECT epoch, status FROM settlements "
    "WHERE account = ? AND mode = ? AND status IN ('won', 'lost', 'house-won') ORDER BY epoch DESC LIMIT ?) recent"
)
INTENT_COLUMNS = "id, market, epoch, account, mode, origin, position, amount_wei, state, owner, lock_ts, reason, tx_hash"
ROUND_INTENT_ROW = f"SELECT {INTENT_COLUMNS} FROM intents WHERE market = ? AND epoch = ? AND account = ?"  # noqa: S608
# the intent commit's one read (one round trip on PostgreSQL): the round's intent (r) and the stakes the daily cap
# counts (s, the round's own intent among them when it is today's)
ROUND_AND_STAKED = (
    f"SELECT 'r', {INTENT_COLUMNS} FROM intents WHERE market = ? AND epoch = ? AND account = ? "  # noqa: S608
    f"UNION ALL SELECT 's', {INTENT_COLUMNS} FROM intents WHERE account = ? AND created_at >= ? "
    "AND state IN ('intended', 'signed', 'sent', 'landed', 'paper')"
)
INTENT_BY_ID = f"SELECT {INTENT_COLUMNS} FROM intents WHERE id = ?"  # noqa: S608
OPEN_INTENTS = (
    f"SELECT {INTENT_COLUMNS} FROM intents WHERE account = ? AND mode = ? "  # noqa: S608
    "AND state IN ('intended', 'signed', 'sent') ORDER BY id"
)
UNCLAIMED_MANUAL = (
    f"SELECT {INTENT_COLUMNS} FROM intents WHERE account = ? AND mode = ? AND origin = 'manual' "  # noqa: S608
    "AND state = 'intended' AND owner = '' ORDER BY id"
)
CLAIM_INTENT = "UPDATE intents SET owner = ?, updated_at = ? WHERE id = ? AND owner = ? AND state IN ('intended', 'signed', 'sent')"
ATTEMPT_HASHES = "SELECT tx_hash FROM tx_attempts WHERE intent_id = ? ORDER BY id"
LAST_ATTEMPT = "SELECT raw_tx, nonce FROM tx_attempts WHERE intent_id = ? ORDER BY id DESC LIMIT 1"
MARK_ATTEMPT = "UPDATE tx_attempts SET status = ? WHERE id = ?"
MINE_ATTEMPT = (
    "UPDATE tx_attempts SET status = 'mined', receipt_status = ?, block_number = ?, gas_cost_wei = ? WHERE tx_hash = ?"
)
REPLACE_SIBLINGS = (
    "UPDATE tx_attempts SET status = 'replaced' WHERE intent_id = ? AND tx_hash != ? AND status IN ('signed', 'sent')"
)
# the intent columns a transition may set besides state/reason/updated_at (fixed names: never user input)
SETTABLE = ("tx_hash", "block_number", "block_timestamp", "gas_used", "gas_cost_wei", "handed_at")
INSERT_INTENT = (
    "INSERT INTO intents (market, epoch, account, mode, origin, position, amount_wei, state, reason, strategy, "
    "decision, lock_ts, created_at, updated_at, fired_at, handed_at, gas_used, gas_cost_wei, owner) "
    "VALUES (:market, :epoch, :account, :mode, :origin, :position, :amount_wei, :state, :reason, :strategy, "
    ":decision, :lock_ts, :created_at, :updated_at, :fired_at, :handed_at, :gas_used, :gas_cost_wei, :owner)"
)
INSERT_ATTEMPT = (
    "INSERT INTO tx_attempts (intent_id, kind, market, account, nonce, tx_hash, raw_tx, epochs, max_fee_wei, "
    "priority_fee_wei, status, gas_cost_wei, created_at) "
    "VALUES (:intent_id, :kind, :market, :account, :nonce, :tx_hash, :raw_tx, :epochs, :max_fee_wei, "
    ":priority_fee_wei, :status, :gas_cost_wei, :created_at)"
)
# a replacement attempt of a SENT intent keeps it SENT (the lifecycle never moves back)
MARK_SIGNED = (
    "UPDATE intents SET state = CASE WHEN state = 'sent' THEN 'sent' ELSE 'signed' END, tx_hash = ?, updated_at = ? "
    "WHERE id = ? AND state IN ('intended', 'signed', 'sent')"
)


# the PostgreSQL advisory lock a journal write transaction takes first when it names no account (a fixed 64-bit key:
# "bot-jrnl"); a write for an account takes that account's key instead (``account_write_key``)
JOURNAL_LOCK_KEY = int.from_bytes(b"bot-jrnl", "big", signed=True)
# (PostgreSQL: one round trip for both statements — no parameters, so psycopg sends it as a simple query)
BEGIN_WRITE = {"sqlite": "BEGIN IMMEDIATE", "postgresql": f"BEGIN; SELECT pg_advisory_xact_lock({JOURNAL_LOCK_KEY})"}


def account_write_key(account: str) -> int:
    """The signed 64-bit advisory-lock key of journal writes for ``account`` (any chain: the daily caps are per
    account). Its own namespace, so it never meets the account lock's session-level key (``bot.engine.account_lock``)
    that the daemon holds while a CLI journals a hand-over for it."""
    digest = hashlib.blake2b(f"bot-journal-write:{account.lower()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@lru_cache(maxsize=256)
def _begin_account_write(account: str) -> str:
    """PostgreSQL's BEGIN + this account's transaction-level advisory lock, one simple query (the key is an int we
    computed, never text from outside)."""
    return f"BEGIN; SELECT pg_advisory_xact_lock({account_write_key(account)})"


class Cursor(Protocol):
    """What the journal reads from an executed statement (``sqlite3.Cursor`` is one)."""

    @property
    def rowcount(self) -> int: ...
    @property
    def lastrowid(self) -> int | None: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """A journal connection: ``sqlite3.Connection`` itself, or ``PgConn`` around a psycopg connection."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """The PostgreSQL (psycopg) text of one of our SQLite statements."""
    out = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%")).replace("?", "%s")
    if out.lstrip().upper().startswith("INSERT INTO ") and " RETURNING " not in out.upper():
        out += " RETURNING id"
    return out


class PgCursor:
    """A psycopg cursor seen through ``Cursor``: ``lastrowid`` is the ``RETURNING id`` of an insert."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    @property
    def lastrowid(self) -> int | None:
        row = self._cursor.fetchone()
        return None if row is None else int(row[0])

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())


class PgConn:
    """A pooled psycopg connection running the journal's SQLite-style statements (translated by ``pg_sql``).

    It runs in autocommit mode while we hold it, as SQLite's connection does: a read is its statements and nothing
    else (no BEGIN, no ROLLBACK round trips), and a write transaction is opened and closed by ``write`` with explicit
    ``BEGIN`` / ``COMMIT`` / ``ROLLBACK``."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = (), /) -> PgCursor:
        cursor = self._conn.cursor()
        if parameters:
            cursor.execute(pg_sql(sql), parameters)
        else:  # no placeholders: sent as is (a simple query, so ``BEGIN_WRITE``'s two statements go in one trip)
            cursor.execute(sql.encode())
        return PgCursor(cursor)

    def commit(self) -> None:
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        self._conn.execute("ROLLBACK")


@contextmanager
def connection(engine: Engine) -> Iterator[Conn]:
    """A pooled connection, returned to the pool after: SQLite's own (WAL, synchronous=FULL, as ``make_engine`` sets
    up), or psycopg's behind ``PgConn`` (autocommit while we hold it; given back to the pool as the ORM expects it,
    or discarded if it is not idle)."""
    dialect = engine.dialect.name
    if dialect not in BEGIN_WRITE:
        raise ValueError(f"the bet journal runs on SQLite or PostgreSQL, not {dialect}")
    pooled = engine.raw_connection()
    if dialect == "sqlite":
        try:
            yield cast(sqlite3.Connection, pooled.driver_connection)
        finally:
            pooled.close()
        return
    driver: Any = pooled.driver_connection
    try:
        driver.autocommit = True
        yield PgConn(driver)
    finally:
        try:
            driver.autocommit = False  # raises unless idle (a write left open by a lost connection)
        except Exception:  # noqa: BLE001 — the connection is unusable: the pool replaces it
            pooled.invalidate()
        pooled.close()


@contextmanager
def write(engine: Engine, account: str | None = None) -> Iterator[Conn]:
    """One durable DB transaction under the journal's write lock: committed (fsync'd) on success, rolled back on any
    error. SQLite: the database's write lock. PostgreSQL: ``account``'s advisory lock when the write is for one account
    (all the bet path's writes are: the daily cap and the round's uniqueness are per account, so bots of other accounts
    sharing the database never wait for it), else the journal-wide key."""
    dialect = engine.dialect.name
    with connection(engine) as conn:
        conn.execute(_begin_account_write(account) if account is not None and dialect == "postgresql"
                     else BEGIN_WRITE[dialect])
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def day_start(now: float) -> float:
    """Midnight UTC of the day containing ``now``: the daily caps reset there."""
    return now - (now % 86_400)


# -- reads --------------------------------------------------------------------------------------------------------------
def intent_state(conn: Conn, market: str, epoch: int, account: str) -> tuple[int, str] | None:
    """(id, state) of the round's intent for ``account``, if there is one."""
    row = conn.execute(ROUND_INTENT, (market, epoch, account)).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def staked_today(conn: Conn, account: str, now: float, excluding: int = -1) -> int:
    """Wei staked or about to be (intended, signed, sent, landed or paper-filled) by ``account`` since midnight UTC,
    leaving out the intent ``excluding`` (the one being checked)."""
    rows = conn.execute(STAKED_SINCE, (account, day_start(now), excluding)).fetchall()
    return sum(int(r[0]) for r in rows)


@dataclass(frozen=True)
class RiskSnapshot:
    """What the risk limits need from the journal, read in one go."""

    intent: tuple[int, str] | None  # this round's intent (id, state), if any
    staked_today_wei: int
    pnl_today_wei: int
    consecutive_losses: int

    @property
    def stats(self) -> tuple[int, int, int]:
        return self.staked_today_wei, self.pnl_today_wei, self.consecutive_losses


def risk_snapshot(engine: Engine, market: str, epoch: int, account: str, mode: str, now: float | None = None,
                  limit: int = 100) -> RiskSnapshot:
    """The round's intent, today's stakes (in-flight intents included), today's realised PnL and the losing streak,
    read by one statement (``RISK_SNAPSHOT``)."""
    now = time.time() if now is None else now
    start = day_start(now)
    params = (market, epoch, account, account, start, account, int(start), mode, account, mode, limit)
    with connection(engine) as conn:
        rows = conn.execute(RISK_SNAPSHOT, params).fetchall()
    intent, staked, pnl, recent = None, 0, 0, []
    for tag, value, text in rows:
        if tag == "i":
            intent = (int(value), str(text))
        elif tag == "s":
            staked += int(value)
        elif tag == "p":
            pnl += int(value)
        else:
            recent.append((int(value), str(text)))
    streak = 0
    for _, status in sorted(recent, reverse=True):
        if status == "won":
            break
        streak += 1
    return RiskSnapshot(intent, staked, pnl, streak)


# -- writes -------------------------------------------------------------------------------------------------------------
def insert_intent(conn: Conn, fields: dict[str, Any], now: float) -> int:
    """Insert an intent row (wei as exact decimal text, like ``WeiType``); unset columns get the model's defaults."""
    row = {"state": "intended", "reason": "", "handed_at": 0.0, "gas_used": 0, "created_at": now, "updated_at": now,
           "origin": "daemon", "strategy": "", "decision": "{}", "lock_ts": 0, "fired_at": 0.0, "owner": "", **fields}
    row["amount_wei"] = str(int(row["amount_wei"]))
    row["gas_cost_wei"] = "0"
    return int(conn.execute(INSERT_INTENT, row).lastrowid or 0)


def insert_attempt(conn: Conn, fields: dict[str, Any], now: float) -> int:
    """Insert a signed attempt (status ``signed``) and move its intent, if any, to SIGNED with the attempt's hash."""
    row = {"status": "signed", "gas_cost_wei": "0", "created_at": now, "epochs": "", "intent_id": None, **fields}
    for key in ("max_fee_wei", "priority_fee_wei"):
        row[key] = str(int(row[key]))
    attempt_id = int(conn.execute(INSERT_ATTEMPT, row).lastrowid or 0)
    if row["intent_id"] is not None and conn.execute(MARK_SIGNED, (row["tx_hash"], now, row["intent_id"])).rowcount != 1:
        raise IllegalTransition(f"intent {row['intent_id']}: a transaction signed for an intent that is no longer open")
    return attempt_id


# -- the lifecycle: one way to write each move ----------------------------------------------------------------------------
@dataclass(frozen=True)
class IntentRow:
    """An intent as the journal holds it: what will be signed is ``position`` and ``amount_wei``, nothing else."""

    id: int
    market: str
    epoch: int
    account: str
    mode: str
    origin: str
    position: int
    amount_wei: int
    state: IntentState
    owner: str
    lock_ts: int
    reason: str
    tx_hash: str | None = None


def _row(values: Any) -> IntentRow:
    v = tuple(values)
    return IntentRow(int(v[0]), str(v[1]), int(v[2]), str(v[3]), str(v[4]), str(v[5]), int(v[6]), int(v[7]),
                     IntentState(v[8]), str(v[9] or ""), int(v[10] or 0), str(v[11] or ""),
                     None if v[12] is None else str(v[12]))


def round_intent(conn: Conn, market: str, epoch: int, account: str) -> IntentRow | None:
    found = conn.execute(ROUND_INTENT_ROW, (market, epoch, account)).fetchone()
    return None if found is None else _row(found)


def round_and_staked(conn: Conn, market: str, epoch: int, account: str, now: float) -> tuple[IntentRow | None, int]:
    """(the round's intent of ``account`` if any, the wei the daily cap counts today leaving that intent out)."""
    found: IntentRow | None = None
    stakes: dict[int, int] = {}
    for values in conn.execute(ROUND_AND_STAKED, (market, epoch, account, account, day_start(now))).fetchall():
        row = _row(tuple(values)[1:])
        if values[0] == "r":
            found = row
        else:
            stakes[row.id] = row.amount_wei
    if found is not None:
        stakes.pop(found.id, None)
    return found, sum(stakes.values())


def intent_by_id(conn: Conn, intent_id: int) -> IntentRow | None:
    found = conn.execute(INTENT_BY_ID, (intent_id,)).fetchone()
    return None if found is None else _row(found)


def open_intents(conn: Conn, account: str, mode: str) -> list[IntentRow]:
    """Intents of ``account`` whose outcome is not known yet (intended, signed, sent)."""
    return [_row(r) for r in conn.execute(OPEN_INTENTS, (account, mode)).fetchall()]


def unclaimed_manual(conn: Conn, account: str, mode: str) -> list[IntentRow]:
    """Manual intents handed to the running daemon (intended, no owner yet)."""
    return [_row(r) for r in conn.execute(UNCLAIMED_MANUAL, (account, mode)).fetchall()]


def claim_intent(conn: Conn, intent_id: int, owner: str, previous: str, now: float) -> bool:
    """Make ``owner`` the intent's owner if it is still open and owned by ``previous``; False if someone else won."""
    return conn.execute(CLAIM_INTENT, (owner, now, intent_id, previous)).rowcount == 1


def transition(conn: Conn, intent_id: int, target: IntentState, now: float, reason: str | None = None,
               **attrs: Any) -> None:
    """Move the intent to ``target`` — only along ``TRANSITIONS``; anything else raises ``IllegalTransition``."""
    unknown = set(attrs) - set(SETTABLE)
    if unknown:
        raise ValueError(f"not settable by a transition: {sorted(unknown)}")
    sources = allowed_from(target)
    if not sources:
        raise IllegalTransition(f"no state moves to {target.value}")
    sets = ["state = ?", "updated_at = ?"] + (["reason = ?"] if reason is not None else [])
    sets += [f"{name} = ?" for name in attrs]
    values: list[Any] = [target.value, now] + ([reason] if reason is not None else [])
    values += [str(v) if name == "gas_cost_wei" else v for name, v in attrs.items()]
    marks = ", ".join("?" for _ in sources)
    sql = f"UPDATE intents SET {', '.join(sets)} WHERE id = ? AND state IN ({marks})"  # noqa: S608 — fixed names only
    if conn.execute(sql, (*values, intent_id, *sources)).rowcount != 1:
        current = conn.execute("SELECT state FROM intents WHERE id = ?", (intent_id,)).fetchone()
        was = "no such intent" if current is None else current[0]
        raise IllegalTransition(f"intent {intent_id}: {was} -> {target.value} is not a move the lifecycle allows")


def attempt_hashes(conn: Conn, intent_id: int) -> list[str]:
    return [str(r[0]) for r in conn.execute(ATTEMPT_HASHES, (intent_id,)).fetchall()]


def last_attempt(conn: Conn, intent_id: int) -> tuple[bytes, int] | None:
    """(raw signed bytes, nonce) of the intent's newest attempt."""
    found = conn.execute(LAST_ATTEMPT, (intent_id,)).fetchone()
    return None if found is None else (bytes.fromhex(str(found[0])), int(found[1]))


def mark_attempt(conn: Conn, attempt_id: int, status: str) -> None:
    conn.execute(MARK_ATTEMPT, (status, attempt_id))


def mine_attempt(conn: Conn, tx_hash: str, receipt_status: int, block_number: int, gas_cost_wei: int,
                 intent_id: int | None = None) -> None:
    """Record a receipt on its attempt; the intent's other open attempts (same nonce) are then ``replaced``."""
    conn.execute(MINE_ATTEMPT, (receipt_status, block_number, str(gas_cost_wei), tx_hash))
    if intent_id is not None:
        conn.execute(REPLACE_SIBLINGS, (intent_id, tx_hash))
