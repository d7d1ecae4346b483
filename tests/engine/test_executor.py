"""Live executor on anvil: journal-before-send, timing guard, pre-flight, duplicates, crashes at every step (SQLite and
PostgreSQL: the killed child and the recovering process share the store)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain import Position
from bot.engine.executor import BetRequest, SpendingCaps
from bot.engine.trace import BetTrace
from bot.store.db import session_scope
from bot.store.journal import Intent, IntentState, TxAttempt
from devkit.devnet.keeper import Keeper
from tests.engine.helpers import build_live

pytestmark = pytest.mark.anvil
ROOT = Path(__file__).resolve().parents[2]
STAKE = 10**16
P = 600 * 10**8


@pytest.fixture
def setup(chain, v2, tmp_path):
    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=P)
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    key = chain.private_keys[5]
    executor, market, sessions, w3 = build_live(chain.url, v2.market_address, "v2", key, db_url)
    return chain, keeper, executor, market, sessions, db_url, key


@pytest.fixture
def store_setup(chain, v2, database_url):
    """As ``setup``, on a fresh SQLite file or a fresh PostgreSQL database (the crash tests run on both)."""
    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=P)
    key = chain.private_keys[5]
    executor, market, sessions, w3 = build_live(chain.url, v2.market_address, "v2", key, database_url)
    return chain, keeper, executor, market, sessions, database_url, key


def request(market, epoch=1, amount=STAKE, position=Position.BULL):
    rnd = market.round(epoch)
    return BetRequest(market=market, epoch=epoch, position=position, amount=amount, lock_ts=rnd.lock_timestamp)


def intents(sessions):
    with session_scope(sessions) as s:
        return [(i.epoch, i.state, i.reason) for i in s.scalars(select(Intent))]


def attempts(sessions):
    with session_scope(sessions) as s:
        return [(a.nonce, a.tx_hash, a.status) for a in s.scalars(select(TxAttempt))]


def test_bet_lands_and_journal_holds_raw_tx_first(setup):
    chain, keeper, ex, market, sessions, *_ = setup
    chain.advance_to(market.round(1).start_timestamp + 1)
    result = ex.place(request(market))
    assert result.state is IntentState.LANDED, result.reason
    assert market.ledger(1, ex.account).amount == STAKE
    [(nonce, tx_hash, status)] = attempts(sessions)
    assert status == "mined" and tx_hash == result.tx_hash
    with session_scope(sessions) as s:
        intent = s.scalars(select(Intent)).one()
        assert intent.gas_cost_wei > 0 and intent.block_timestamp < intent.lock_ts


def test_traced_bet_reports_its_hot_path_phases_in_order(setup):
    chain, keeper, ex, market, sessions, *_ = setup
    chain.advance_to(market.round(1).start_timestamp + 1)
    fired = time.perf_counter()
    req = request(market)
    req.fired_at, req.trace = fired, BetTrace(fired)
    result = ex.place(req)
    assert result.state is IntentState.LANDED and result.phases is not None
    assert list(result.phases) == ["build", "intent-commit", "preflight", "nonce-fees", "sign", "journal-commit",
                                   "handed"]
    assert all(ms >= 0 for ms in result.phases.values())
    # the phases partition the decision latency exactly: trigger -> raw tx handed to the RPC
    assert sum(result.phases.values()) == pytest.approx(result.latency * 1000, abs=1e-6)


def test_trace_accumulates_a_repeated_phase():
    trace = BetTrace(10.0)
    trace.marks = [("a", 10.5), ("b", 10.75), ("a", 11.0)]
    assert trace.phases_ms() == {"a": 750.0, "b": 250.0}
    assert trace.total_ms() == 1000.0 and BetTrace().phases_ms() == {}


def test_second_place_for_same_round_is_a_duplicate(setup):
    chain, keeper, ex, market, sessions, *_ = setup
    chain.advance_to(market.round(1).start_timestamp + 1)
    assert ex.place(request(market)).state is IntentState.LANDED
    again = ex.place(request(market, position=Position.BEAR))
    assert again.duplicate and again.state is IntentState.LANDED
    assert len(attempts(sessions)) == 1 and len(intents(sessions)) == 1


def test_too_late_is_never_sent(setup):
    chain, keeper, ex, market, sessions, *_ = setup
    lock = market.round(1).lock_timestamp
    chain.advance_to(lock - 1)
    nonce_before = chain.w3.eth.get_transaction_count(ex.account)
    result = ex.place(request(market))
    assert result.state is IntentState.TOO_LATE
    assert attempts(sessions) == [] and chain.w3.eth.get_transaction_count(ex.account) == nonce_before


def test_preflight_revert_is_recorded_not_sent(setup):
    chain, keeper, ex, market, sessions, *_ = setup
    chain.advance_to(market.round(1).start_timestamp + 1)
    result = ex.place(request(market, amount=10**15 - 1))
    assert result.state is IntentState.REVERTED
    assert "minBetAmount" in result.reason and attempts(sessions) == []
    [(_, state, reason)] = intents(sessions)
    assert state == "reverted" and "pre-flight" in reason


def test_round_not_bettable_after_lock_is_classified_too_late(setup):
    chain, keeper, ex, market, sessions, *_ = setup
    lock = market.round(1).lock_timestamp
    keeper.genesis_lock(P, at=lock)
    ex.chain_now = lambda: float(lock - 10)  # a lying clock: the pre-flight still catches it
    result = ex.place(request(market))
    assert result.state is IntentState.TOO_LATE and result.reason == "Bet is too early/late"
    assert attempts(sessions) == []


def test_spending_cap_enforced_by_executor(setup):
    chain, keeper, ex, market, sessions, *_ = setup
    chain.advance_to(market.round(1).start_timestamp + 1)
    ex.caps = SpendingCaps(max_per_bet=STAKE - 1, max_per_day=10**18)
    result = ex.place(request(market))
    assert result.state is IntentState.FAILED and "cap" in result.reason and attempts(sessions) == []


def test_nonce_used_elsewhere_is_resigned_with_fresh_nonce(setup):
    chain, keeper, ex, market, sessions, *_ = setup
    chain.advance_to(market.round(1).start_timestamp + 1)
    ex.sender.warm()  # local counter now holds the current nonce
    # the same account sends something else behind the bot's back: our local nonce is stale
    chain.w3.eth.send_transaction({"from": ex.account, "to": ex.account, "value": 1})
    result = ex.place(request(market))
    assert result.state is IntentState.LANDED
    statuses = [s for _, _, s in attempts(sessions)]
    assert statuses == ["failed", "mined"]
    assert market.ledger(1, ex.account).amount == STAKE


@pytest.mark.parametrize("crash_at", ["after-intent", "after-sign", "after-broadcast"])
def test_crash_at_each_step_never_double_bets(store_setup, crash_at):
    chain, keeper, ex, market, sessions, db_url, key = store_setup
    rnd = market.round(1)
    chain.advance_to(rnd.start_timestamp + 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [chain.url, market.address, "v2", key, db_url, "1", str(rnd.lock_timestamp), str(STAKE), crash_at]
    proc = subprocess.run([sys.executable, str(ROOT / "tests/engine/crash_child.py"), *args], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 137, proc.stderr[-2000:]
    # the record of the intent survived the kill
    [(epoch, state, _)] = intents(sessions)
    assert epoch == 1 and state in ("intended", "signed", "sent")
    # restart: recovery resolves it from the chain before anything new is sent
    results = ex.recover({market.name: market})
    assert [r.state for r in results] == [IntentState.LANDED]
    # and a new attempt to bet the same round does nothing
    assert ex.place(request(market, position=Position.BEAR)).duplicate
    assert market.ledger(1, ex.account).amount == STAKE and market.ledger(1, ex.account).position is Position.BULL
    nonces = {n for n, _, _ in attempts(sessions)}
    assert len(nonces) <= 1 and len(intents(sessions)) == 1


def test_crash_after_sign_then_round_over_is_dropped_not_sent(store_setup):
    chain, keeper, ex, market, sessions, db_url, key = store_setup
    rnd = market.round(1)
    chain.advance_to(rnd.start_timestamp + 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [chain.url, market.address, "v2", key, db_url, "1", str(rnd.lock_timestamp), str(STAKE), "after-sign"]
    subprocess.run([sys.executable, str(ROOT / "tests/engine/crash_child.py"), *args], env=env, timeout=60)
    chain.advance_to(rnd.lock_timestamp + 1)  # restart comes too late
    results = ex.recover({market.name: market})
    assert [r.state for r in results] == [IntentState.DROPPED]
    assert market.ledger(1, ex.account).amount == 0
