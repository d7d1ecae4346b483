"""Two instances of the bot, each with its own database, on one key: the one whose database never saw the bets
reconciles them as adopted — no crash (it raised a TypeError every ~2 s before), exact to the wei."""

from __future__ import annotations

import pytest
from eth_account import Account
from sqlalchemy import select

from bot.chain.gas import GasPolicy
from bot.chain.sender import TxSender
from bot.config import GasConfig
from bot.domain import Position
from bot.engine.executor import BetExecutor, BetRequest
from bot.reconcile.reconciler import Reconciler, ReconcileSettings
from bot.store.db import session_scope
from bot.store.outcomes import Settlement
from tests.reconcile.helpers import Scenario, make_sessions

pytestmark = pytest.mark.anvil
MILLI = 10**15


def test_bets_placed_by_another_instance_are_adopted_exactly(chain, deployments, bettors, tmp_path):
    deployment = deployments["v2"]
    sessions_a = make_sessions(tmp_path / "a")
    sc = Scenario.create(chain, deployment, sessions_a, [chain.private_keys[6]])
    [bot] = sc.bots
    start_block = chain.block_number() + 1
    balance0 = sc.balance(bot.address)
    sessions_b = make_sessions(tmp_path / "b")  # instance B: same key, its own (empty) database
    sender_b = TxSender(chain.w3, Account.from_key(chain.private_keys[6]), sessions_b, GasPolicy(GasConfig()),
                        bot.sender.policy, chain.chain_id, max_gas_per_day_wei=10**20)
    executor_b = BetExecutor(sender_b, sessions_b, chain_now=chain.chain_time)
    rec_b = Reconciler(sessions_b, [sc.market], senders={bot.address: sender_b},
                       settings=ReconcileSettings(start_blocks={"devnet": start_block}, confirmations=1))
    sc.kickoff()
    for i, move in enumerate((10**8, -(10**8), 10**8)):
        assert sc.bot_bet(bot, Position.BULL if i % 2 == 0 else Position.BEAR, (i + 2) * MILLI).state.value == "landed"
        sc.hand_bet(bettors[4], Position.BEAR, 5 * MILLI)  # the other side
        tried = executor_b.place(BetRequest(market=sc.market, epoch=sc.epoch(), position=Position.BEAR, amount=MILLI,
                                            lock_ts=sc.market.round(sc.epoch()).lock_timestamp))
        assert tried.state.value == "failed" and tried.duplicate  # B sees A's bet on chain: nothing sent
        rec_b.reconcile()  # mid-game, with open bets it never journaled: must not raise
        sc.next_round(move)
    sc.next_round(10**8)
    sc.next_round(10**8)
    rec_b.reconcile()
    rec_b.claim()
    chain.mine()
    rec_b.reconcile()
    with session_scope(sessions_b) as s:
        rows = s.scalars(select(Settlement).where(Settlement.account == bot.address)).all()
        assert len(rows) == 3 and all(r.origin == "adopted" and r.final for r in rows)
        assert all(r.bet_gas_wei > 0 for r in rows)  # the gas of a bet it never sent, from the chain
    pnl = rec_b.account_pnl(bot.address)
    assert pnl.pnl_wei == sc.balance(bot.address) - balance0
