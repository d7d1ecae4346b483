"""Claim gas limits come from measurement (``bot.reconcile.claimgas``): the fit is an upper bound of what it saw, and
on anvil a big claim sized from our earlier claims lands when the endpoint refuses ``eth_estimateGas``; with nothing
measured, no claim is sent with a guessed limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from web3 import Web3

from bot.domain import Position
from bot.errors import TemporaryError
from bot.reconcile import Reconciler, ReconcileSettings
from bot.reconcile.claimgas import fit, measured_claims
from bot.store.db import session_scope
from bot.store.outcomes import ClaimRecord
from devkit.devnet.faultproxy import FaultPlan, FaultProxy
from tests.reconcile.helpers import Scenario, make_sessions, open_market

MILLI = 10**15


@given(base=st.integers(0, 100_000), per=st.integers(1, 200_000), counts=st.sets(st.integers(1, 60), min_size=2))
def test_fit_of_a_line_is_that_line(base, per, counts):
    model = fit([(n, base + per * n) for n in sorted(counts)])
    assert model is not None and (model.base, model.per_epoch) == (base, per)


@given(samples=st.lists(st.tuples(st.integers(1, 40), st.integers(21_000, 3_000_000)), min_size=1, max_size=12))
def test_fit_never_lies_below_a_sample(samples):
    model = fit(samples)
    assert model is not None
    assert all(model.base + model.per_epoch * n >= gas for n, gas in samples)
    assert all(model.limit(n) > gas for n, gas in samples)  # and the limit keeps a margin above


@pytest.mark.anvil
def test_claim_sized_from_measured_claims_when_the_node_will_not_estimate(chain, v2, tmp_path):
    sessions = make_sessions(tmp_path)
    sc = Scenario.create(chain, v2, sessions, chain.private_keys[3:4])
    (a,) = sc.bots
    start_block = chain.block_number() + 1
    sc.kickoff()
    won = []
    for _ in range(16):  # sixteen winning bets, the price goes up every round
        won.append(sc.epoch())
        sc.hand_bet(a.address, Position.BULL, MILLI)
        sc.next_round(100)
    sc.next_round(100)
    sc.hand_claim(a.address, won[:1])  # two claims by hand: the measurements
    sc.hand_claim(a.address, won[1:4])
    with FaultProxy(chain.url, seed=1) as proxy:
        market = open_market(Web3(Web3.HTTPProvider(proxy.url)), v2)
        settings = ReconcileSettings(start_blocks={"devnet": start_block}, claim_batch_size=20)
        rec = Reconciler(sessions, [market], senders={a.address: a.sender}, settings=settings)
        rec.reconcile()  # finds the hand-made claims among our transactions
        with session_scope(sessions) as s:
            samples = sorted(measured_claims(s, "devnet"))
        assert [n for n, _ in samples] == [1, 3]
        model = fit(samples)
        assert model is not None and 30_000 < model.per_epoch < 63_000  # our contract: ~45k per extra epoch

        proxy.set_plan(FaultPlan(rate=1.0, kinds=("rpc_error",), methods=frozenset({"eth_estimateGas"})))
        (report,) = rec.claim()
        assert proxy.counters().get("rpc_error", 0) >= 1  # it asked for an estimate and was refused
        assert report.claimed_epochs == won[4:]
        tx = chain.w3.eth.get_transaction(report.sent[0])
        receipt = chain.w3.eth.get_transaction_receipt(report.sent[0])
        assert tx["gas"] == model.limit(12) and receipt["status"] == 1 and receipt["gasUsed"] < tx["gas"]

        # a fresh database: nothing measured, no estimate -> no claim is sent
        (tmp_path / "fresh").mkdir()
        fresh = make_sessions(tmp_path / "fresh")
        rec2 = Reconciler(fresh, [market], senders={a.address: a.sender}, settings=settings)
        nonce = chain.w3.eth.get_transaction_count(a.address)
        sc.hand_bet(a.address, Position.BULL, MILLI)
        sc.next_round(100)
        sc.next_round(100)
        chain.mine(chain.chain_time() + 1)  # the round has closed: claimable
        with pytest.raises(TemporaryError, match="no claim was measured here yet"):
            rec2.claim()
        assert chain.w3.eth.get_transaction_count(a.address) == nonce + 1  # only the bet
        with session_scope(fresh) as s:
            assert s.scalars(select(ClaimRecord)).all() == []
