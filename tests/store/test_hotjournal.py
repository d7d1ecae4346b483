"""The bet path's plain-SQL journal writes the ORM models' rows exactly, reads the risk figures right, and commits
all or nothing — on SQLite and on PostgreSQL (the ``postgres`` fixture's throwaway cluster)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from bot.store import hotjournal
from bot.store.db import session_factory, session_scope
from bot.store.journal import Intent, IntentState, TxAttempt
from bot.store.outcomes import Settlement

ACCOUNT = "0x00000000000000000000000000000000000000A1"
OTHER = "0x00000000000000000000000000000000000000B2"
NOW = 1_750_000_000.0 + 43_200  # noon UTC
MIDNIGHT = hotjournal.day_start(NOW)
WEI = 10**30  # above 2**63: must survive exactly


@pytest.fixture(scope="module")
def engine(store_engine):
    return store_engine


def clear(engine):
    with session_scope(session_factory(engine)) as s:
        for model in (TxAttempt, Intent, Settlement):
            s.execute(delete(model))


def test_intent_and_attempt_rows_read_back_through_the_orm(engine):
    clear(engine)
    fields = {"market": "bnb", "epoch": 7, "account": ACCOUNT, "mode": "live", "origin": "manual", "position": 1,
              "amount_wei": WEI + 1, "strategy": "edge", "decision": '{"p_up": 0.6}', "lock_ts": 123, "fired_at": 4.5}
    with hotjournal.write(engine) as conn:
        intent_id = hotjournal.insert_intent(conn, fields, NOW)
    with hotjournal.write(engine) as conn:
        attempt_id = hotjournal.insert_attempt(conn, {
            "intent_id": intent_id, "kind": "bet", "market": "bnb", "account": ACCOUNT, "nonce": 3,
            "tx_hash": "0x" + "ab" * 32, "raw_tx": "02f8", "epochs": "7", "max_fee_wei": WEI, "priority_fee_wei": 2,
        }, NOW + 1)
    with session_scope(session_factory(engine)) as s:
        intent = s.get(Intent, intent_id)
        attempt = s.get(TxAttempt, attempt_id)
        assert intent is not None and attempt is not None
        assert (intent.market, intent.epoch, intent.account, intent.mode, intent.origin, intent.position) == (
            "bnb", 7, ACCOUNT, "live", "manual", 1)
        assert intent.amount_wei == WEI + 1 and isinstance(intent.amount_wei, int)
        assert (intent.strategy, intent.decision, intent.lock_ts, intent.fired_at) == ("edge", '{"p_up": 0.6}', 123, 4.5)
        assert intent.created_at == NOW and intent.updated_at == NOW + 1  # moved to SIGNED by the attempt
        assert intent.state == "signed" and intent.tx_hash == "0x" + "ab" * 32 and intent.reason == ""
        assert intent.gas_cost_wei == 0 and intent.handed_at == 0.0 and intent.block_number is None
        assert attempt.intent is intent and attempt.status == "signed" and attempt.max_fee_wei == WEI
        assert (attempt.nonce, attempt.raw_tx, attempt.epochs, attempt.priority_fee_wei) == (3, "02f8", "7", 2)


def test_a_failed_step_commits_nothing(engine):
    clear(engine)
    with pytest.raises(RuntimeError), hotjournal.write(engine) as conn:
        hotjournal.insert_intent(conn, {"market": "bnb", "epoch": 1, "account": ACCOUNT, "mode": "live",
                                        "position": 1, "amount_wei": 5}, NOW)
        raise RuntimeError("crash between insert and commit")
    with hotjournal.connection(engine) as conn:
        assert hotjournal.intent_state(conn, "bnb", 1, ACCOUNT) is None


def test_the_round_unique_key_holds(engine):
    clear(engine)
    row = {"market": "bnb", "epoch": 2, "account": ACCOUNT, "mode": "live", "position": 1, "amount_wei": 5}
    with hotjournal.write(engine) as conn:
        first = hotjournal.insert_intent(conn, row, NOW)
    with pytest.raises(Exception, match="(?i)unique"), hotjournal.write(engine) as conn:
        hotjournal.insert_intent(conn, row | {"position": 2}, NOW)
    with hotjournal.connection(engine) as conn:
        assert hotjournal.intent_state(conn, "bnb", 2, ACCOUNT) == (first, "intended")


intent_rows = st.lists(st.tuples(
    st.sampled_from(["intended", "signed", "sent", "landed", "reverted", "too-late", "dropped", "paper", "failed"]),
    st.integers(0, 2 * WEI), st.sampled_from([MIDNIGHT - 1, MIDNIGHT, NOW]), st.sampled_from([ACCOUNT, OTHER]),
), max_size=12)
settlement_rows = st.lists(st.tuples(
    st.sampled_from(["open", "won", "lost", "house-won", "refund"]), st.integers(-WEI, WEI),
    st.sampled_from([int(MIDNIGHT) - 1, int(MIDNIGHT), int(NOW)]), st.sampled_from(["live", "paper"]),
    st.sampled_from([ACCOUNT, OTHER]),
), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(intents=intent_rows, settlements=settlement_rows, mode=st.sampled_from(["live", "paper"]))
def test_risk_snapshot_matches_the_rules(engine, intents, settlements, mode):
    clear(engine)
    epochs = itertools.count(1)
    with session_scope(session_factory(engine)) as s:
        for state, amount, created, account in intents:
            s.add(Intent(market="bnb", epoch=next(epochs), account=account, mode=mode, position=1, amount_wei=amount,
                         state=state, created_at=created))
        for status, pnl, settled, smode, account in settlements:
            s.add(Settlement(market="bnb", epoch=next(epochs), account=account, mode=smode, position=1, stake_wei=1,
                             status=status, net_pnl_wei=pnl, settled_at=settled))
    snap = hotjournal.risk_snapshot(engine, "bnb", 1, ACCOUNT, mode, now=NOW)
    staked = sum(a for st_, a, c, acc in intents if acc == ACCOUNT and c >= MIDNIGHT
                 and st_ in ("intended", "signed", "sent", "landed", "paper"))  # in-flight intents count
    pnl = sum(p for _, p, at, m, acc in settlements if acc == ACCOUNT and m == mode and at >= MIDNIGHT)
    streak = 0
    for status, _, _, m, acc in reversed(settlements):  # newest epoch first
        if acc != ACCOUNT or m != mode or status not in ("won", "lost", "house-won"):
            continue
        if status == "won":
            break
        streak += 1
    assert snap.stats == (staked, pnl, streak)
    first = intents[0] if intents else None
    assert (snap.intent is not None) == (first is not None and first[3] == ACCOUNT)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(intents=intent_rows, epoch=st.integers(1, 13))
def test_the_intent_commits_one_read_matches_its_two_reads(engine, intents, epoch):
    """round_and_staked (one statement) == the round's intent + today's stakes without it (two statements)."""
    clear(engine)
    epochs = itertools.count(1)
    with session_scope(session_factory(engine)) as s:
        for state, amount, created, account in intents:
            s.add(Intent(market="bnb", epoch=next(epochs), account=account, mode="live", position=1, amount_wei=amount,
                         state=state, created_at=created))
    with hotjournal.connection(engine) as conn:
        row, spent = hotjournal.round_and_staked(conn, "bnb", epoch, ACCOUNT, NOW)
        expected = hotjournal.round_intent(conn, "bnb", epoch, ACCOUNT)
        assert row == expected
        assert spent == hotjournal.staked_today(conn, ACCOUNT, NOW, excluding=row.id if row is not None else -1)


def test_other_engines_are_refused():
    from sqlalchemy import create_mock_engine

    engine = create_mock_engine("mysql://", lambda *a, **k: None)  # a dialect with no connection at all
    with pytest.raises(ValueError, match="runs on SQLite or PostgreSQL, not mysql"), hotjournal.connection(engine):
        pass


def test_the_sqlite_statements_translate_for_psycopg():
    assert hotjournal.pg_sql(hotjournal.ROUND_INTENT) == (
        "SELECT id, state FROM intents WHERE market = %s AND epoch = %s AND account = %s")
    insert = hotjournal.pg_sql(hotjournal.INSERT_ATTEMPT)
    assert insert.endswith("RETURNING id") and "%(intent_id)s, %(kind)s" in insert and "?" not in insert
    assert hotjournal.pg_sql("SELECT 1 WHERE x LIKE 'a%'") == "SELECT 1 WHERE x LIKE 'a%%'"


def test_ids_and_wei_above_int32_and_int64(engine):
    """Epochs, lock times and block numbers beyond 32 bits, wei beyond 64: stored and read back exactly."""
    clear(engine)
    big = 2**40
    with hotjournal.write(engine) as conn:
        intent_id = hotjournal.insert_intent(conn, {"market": "bnb", "epoch": big, "account": ACCOUNT, "mode": "live",
                                                    "position": 2, "amount_wei": WEI, "lock_ts": big + 1}, NOW)
        hotjournal.insert_attempt(conn, {"intent_id": intent_id, "kind": "bet", "market": "bnb", "account": ACCOUNT,
                                         "nonce": big, "tx_hash": "0x" + "cd" * 32, "raw_tx": "02",
                                         "max_fee_wei": WEI, "priority_fee_wei": 1}, NOW)
        hotjournal.transition(conn, intent_id, IntentState.LANDED, NOW, "", block_number=big + 2,
                              block_timestamp=big + 3, gas_cost_wei=WEI)
    with hotjournal.connection(engine) as conn:
        row = hotjournal.round_intent(conn, "bnb", big, ACCOUNT)
        assert row is not None and (row.epoch, row.lock_ts, row.amount_wei, row.state) == (
            big, big + 1, WEI, IntentState.LANDED)
        assert hotjournal.last_attempt(conn, intent_id) == (bytes.fromhex("02"), big)
    with session_scope(session_factory(engine)) as s:
        intent = s.get(Intent, intent_id)
        assert intent is not None and (intent.block_number, intent.block_timestamp, intent.gas_cost_wei) == (
            big + 2, big + 3, WEI)
