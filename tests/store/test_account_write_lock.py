"""PostgreSQL: the bet path's journal writes are serialised per account (``pg_advisory_xact_lock`` of the account's
key). A write for account A waits while another connection holds A's write open; a write for B does not — seen from
``pg_locks``/``pg_stat_activity``, never from timings. (The cross-process daily-cap race on one PostgreSQL database is
``tests/engine/test_ownership.py::test_the_daily_cap_holds_for_two_processes_committing_together``.)"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from bot.engine.account_lock import advisory_key
from bot.store import hotjournal
from bot.store.db import make_engine

A = "0x00000000000000000000000000000000000000A1"
B = "0x00000000000000000000000000000000000000B2"
NOW = 1_750_000_000.0


def intent(account: str, epoch: int) -> dict[str, object]:
    return {"market": "m", "epoch": epoch, "account": account, "mode": "live", "position": 1, "amount_wei": 10**16}


def waiting_on_advisory(dsn: str) -> int:
    """Backends of this database waiting for an advisory lock right now."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                           "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()"
                           ).fetchone()
    return int(row[0]) if row else 0


def test_writes_wait_for_their_own_account_only(pg_url):
    engine = make_engine(pg_url)
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    done: dict[str, int] = {}

    def write_for(account: str, epoch: int) -> None:
        with hotjournal.write(engine, account) as conn:
            done[f"{account}:{epoch}"] = hotjournal.insert_intent(conn, intent(account, epoch), NOW)

    try:
        with hotjournal.write(engine, A) as held:  # A's write transaction is open (its lock held) ...
            hotjournal.insert_intent(held, intent(A, 1), NOW)
            other = threading.Thread(target=write_for, args=(B, 1))
            other.start()
            while other.is_alive():  # ... B's write goes through without ever waiting for it
                assert waiting_on_advisory(dsn) == 0, "a write for another account waited for A's lock"
                time.sleep(0.01)
            same = threading.Thread(target=write_for, args=(A, 2))
            same.start()
            while waiting_on_advisory(dsn) == 0:  # ... while A's second write waits for the first to commit
                assert same.is_alive() and f"{A}:2" not in done, "a second write for A did not wait for A's lock"
                time.sleep(0.01)
            assert f"{A}:2" not in done
        same.join(timeout=60)
        assert f"{B}:1" in done and f"{A}:2" in done
        with hotjournal.connection(engine) as conn:
            assert hotjournal.staked_today(conn, A, NOW) == 2 * 10**16
    finally:
        engine.dispose()


def test_the_write_key_never_meets_the_account_lock_key():
    """The daemon holds the account lock's session key while a CLI journals a hand-over for it: distinct keys."""
    for account in (A, B, A.lower()):
        assert hotjournal.account_write_key(account) != advisory_key(31337, account)
        assert hotjournal.account_write_key(account) != hotjournal.JOURNAL_LOCK_KEY
    assert hotjournal.account_write_key(A) == hotjournal.account_write_key(A.lower())


@pytest.mark.parametrize("account", [A, None])
def test_sqlite_writes_keep_the_database_lock(tmp_path, account):
    engine = make_engine(f"sqlite:///{tmp_path / 'j.db'}")
    try:
        with hotjournal.write(engine, account) as conn:
            assert conn.in_transaction  # BEGIN IMMEDIATE taken, whatever the account
            hotjournal.insert_intent(conn, intent(A, 1), NOW)
        with hotjournal.connection(engine) as conn:
            assert hotjournal.intent_state(conn, "m", 1, A) is not None
    finally:
        engine.dispose()
