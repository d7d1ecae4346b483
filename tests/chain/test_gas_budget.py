"""The daily gas cap's running sum (``bot.chain.gasbudget``) against a full recount of the journal.

Two senders (two accounts) share one journal — SQLite, and PostgreSQL when its server binaries are installed — and go
through random sequences of what happens to attempts: signed and journaled (sometimes at a nonce already in flight: a
replacement), marked sent / failed / replaced / dropped in any order, mined with a gas cost (final) — through
``TxSender``'s own methods. After every step the budget's view (mined gas + worst case in flight, once per nonce) equals
a recount of every row of the account from scratch. Then a new day starts from zero.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine
from web3 import Web3

from bot.chain.gas import Fees, GasPolicy
from bot.chain.gasbudget import GasCapReached
from bot.chain.policy import SigningPolicy, rule_for
from bot.chain.sender import Receipt, TxSender
from bot.chain.txcodec import gas_limit_of
from bot.config import GasConfig
from bot.domain import Position
from bot.markets.base import PredictionMarket
from bot.markets.dialects import V2
from bot.store.db import session_factory, session_scope
from bot.store.hotjournal import day_start
from bot.store.journal import TxAttempt

MARKET = "0x" + "a1" * 20
KEYS = itertools.count(1)


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def journal(store_engine: Engine) -> Any:
    """The journal on SQLite and on PostgreSQL (``store_engine``, tests/conftest.py)."""
    return session_factory(store_engine)


W3 = Web3(Web3.HTTPProvider("http://127.0.0.1:9"))  # never contacted: signing makes no RPC
M = PredictionMarket(W3, MARKET, V2, name="m")
POLICY = SigningPolicy(31337, [rule_for(M)], 10**18)
GAS = GasPolicy(GasConfig(floor_gwei=Decimal(1), ceiling_gwei=Decimal(100), priority_gwei=Decimal(1)))


def new_sender(sessions: Any, clock: Clock, cap: int = 10**30) -> tuple[TxSender, PredictionMarket]:
    key = "0x" + next(KEYS).to_bytes(32, "big").hex()
    sender = TxSender(W3, Account.from_key(key), sessions, GAS, POLICY, 31337, max_gas_per_day_wei=cap, clock=clock)
    return sender, M


def recount(sessions: Any, account: str, now: float) -> tuple[int, int]:
    """(mined gas, worst case in flight) of ``account`` today, from every row."""
    with session_scope(sessions) as s:
        rows = [(a.status, a.nonce, a.max_fee_wei, a.raw_tx, a.gas_cost_wei) for a in
                s.scalars(select(TxAttempt).where(TxAttempt.account == account, TxAttempt.created_at >= day_start(now)))]
    mined = sum(int(g) for status, _, _, _, g in rows if status == "mined")
    worst: dict[int, int] = {}
    for status, nonce, max_fee, raw, _ in rows:
        if status in ("signed", "sent"):
            worst[nonce] = max(worst.get(nonce, 0), gas_limit_of(bytes.fromhex(raw)) * int(max_fee))
    return mined, sum(worst.values())


step = st.one_of(
    st.tuples(st.just("sign"), st.integers(0, 1), st.integers(0, 6), st.integers(1, 50), st.integers(21_001, 400_000)),
    st.tuples(st.just("mark"), st.integers(0, 1), st.integers(0, 40), st.sampled_from(["sent", "failed", "replaced",
                                                                                     "dropped"]), st.just(0)),
    st.tuples(st.just("mine"), st.integers(0, 1), st.integers(0, 40), st.integers(0, 10**16), st.just(0)),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=20))
def test_the_running_sum_equals_a_recount_of_the_journal(journal: Any, steps: list[tuple[Any, ...]]) -> None:
    clock = Clock()
    senders = [new_sender(journal, clock), new_sender(journal, clock)]
    made: list[list[tuple[int, str]]] = [[], []]  # per sender: (attempt id, tx hash)
    epochs = itertools.count(1)
    final: set[str] = set()  # mined attempts
    for op, who, a, b, c in steps:
        sender, market = senders[who]
        if op == "sign":
            tx = market.build_bet(Position.BULL, next(epochs), 10**15)
            fees = Fees(False, max_fee=b * 10**9, priority_fee=10**9)
            raw, tx_hash = sender.sign(tx, a, fees, gas_limit=c)
            made[who].append((sender.record_attempt(tx, "m", a, fees, raw, tx_hash), tx_hash))
        elif made[who]:
            attempt_id, tx_hash = made[who][a % len(made[who])]
            if tx_hash in final:
                continue  # mined is final: the lifecycle never moves such an attempt again
            if op == "mark":
                sender.mark_attempt(attempt_id, b)
            else:
                sender.finish_attempt(attempt_id, Receipt(tx_hash, 1, 1, 21_000, b))
                final.add(tx_hash)
        for s, _ in senders:
            mined, in_flight = recount(journal, s.address, clock.now)
            spend = s.budget.spend()
            assert (spend.mined_wei, spend.total() - spend.mined_wei) == (mined, in_flight)
    clock.now = day_start(clock.now) + 86_400 + 1  # a new day: nothing spent yet
    for s, _ in senders:
        assert s.budget.spend().total() == 0


def test_the_cap_refuses_a_signing_that_would_go_above_it(journal: Any) -> None:
    clock = Clock()
    worst = 100_000 * 10 * 10**9
    sender, market = new_sender(journal, clock, cap=2 * worst)
    fees = Fees(False, max_fee=10 * 10**9, priority_fee=10**9)
    for nonce in (0, 1):
        tx = market.build_bet(Position.BULL, 100 + nonce, 10**15)
        raw, tx_hash = sender.sign(tx, nonce, fees, gas_limit=100_000)
        sender.record_attempt(tx, "m", nonce, fees, raw, tx_hash)
    with pytest.raises(GasCapReached, match="daily gas cap"):
        sender.sign(market.build_bet(Position.BULL, 102, 10**15), 2, fees, gas_limit=100_000)
    # signed but not journaled yet counts as well (two threads cannot pass the cap between them)
    other, market2 = new_sender(journal, clock, cap=worst)
    other.sign(market2.build_bet(Position.BULL, 1, 10**15), 0, fees, gas_limit=100_000)
    with pytest.raises(GasCapReached):
        other.sign(market2.build_bet(Position.BULL, 2, 10**15), 1, fees, gas_limit=100_000)
    clock.now = day_start(clock.now) + 86_400  # tomorrow the cap starts again
    sender.sign(market.build_bet(Position.BULL, 103, 10**15), 2, fees, gas_limit=100_000)
