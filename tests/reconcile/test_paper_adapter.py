"""Paper mode is an adapter (the paper sender), not a flag: the same round played live and on paper (the chain state
before the bet restored in between) gives the same journal moves and the same settlement arithmetic, to the wei —
the paper payout is what the contract paid the live bet, its net only lacks the gas. On anvil, through the executor
and the reconciler the daemon uses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain import Position
from bot.engine.executor import BetRequest
from bot.reconcile.reconciler import Reconciler, ReconcileSettings
from bot.store.db import session_scope
from bot.store.journal import Intent, IntentState, TxAttempt
from bot.store.outcomes import Settlement
from devkit.devnet.keeper import Keeper
from tests.engine.helpers import build_live, build_paper

pytestmark = pytest.mark.anvil
P = 600 * 10**8
STAKE = 3 * 10**16


def play(chain, v2, bettors, db_url: str, mode: str):
    """Round 1 with a crowd, our BULL bet (live or paper), locked and closed up; reconciled. What the journal and the
    books hold."""
    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=P)
    live, market, sessions, _ = build_live(chain.url, v2.market_address, "v2", chain.private_keys[9], db_url)
    executor = live if mode == "live" else build_paper(chain.w3, sessions)
    rnd = market.round(1)
    for i, who in enumerate(bettors[:3]):  # the crowd, the same in both runs
        chain.set_next_timestamp(rnd.start_timestamp + 1 + i)
        fn = market.contract.functions.betBear if i % 2 == 0 else market.contract.functions.betBull
        chain.w3.eth.wait_for_transaction_receipt(fn(1).transact({"from": who, "value": (i + 2) * 10**16}))
    start_block = chain.block_number()
    result = executor.place(BetRequest(market=market, epoch=1, position=Position.BULL, amount=STAKE,
                                       lock_ts=rnd.lock_timestamp, start_ts=rnd.start_timestamp, strategy="twin",
                                       decision={"fee_bp": 300}))
    assert result.state is IntentState.LANDED, result.reason
    keeper.genesis_lock(P, at=rnd.lock_timestamp)
    keeper.next_round(P + 10**8)  # round 1 closes up: BULL wins
    accounts = [executor.account] if mode == "live" else []
    Reconciler(sessions, [market], accounts=accounts,
               settings=ReconcileSettings(start_blocks={market.name: start_block})).reconcile()
    with session_scope(sessions) as s:
        [intent] = s.scalars(select(Intent)).all()
        attempts = [(a.kind, a.status, a.receipt_status) for a in s.scalars(select(TxAttempt))]
        [row] = s.scalars(select(Settlement).where(Settlement.mode == mode)).all()
        book = {k: getattr(row, k) for k in ("epoch", "position", "stake_wei", "status", "payout_wei", "final",
                                              "bet_gas_wei", "claim_gas_wei", "net_pnl_wei", "origin")}
        return (intent.mode, intent.state, intent.amount_wei, intent.position), attempts, book


def test_the_same_round_live_and_on_paper_settles_the_same(chain, v2, bettors, tmp_path):
    before = chain.snapshot()
    live_intent, live_attempts, live = play(chain, v2, bettors, f"sqlite:///{tmp_path / 'live.db'}", "live")
    chain.revert(before)
    paper_intent, paper_attempts, paper = play(chain, v2, bettors, f"sqlite:///{tmp_path / 'paper.db'}", "paper")

    # the same lifecycle: intent -> a journaled bet attempt -> sent -> mined (status 1) -> landed
    assert live_intent == ("live", "landed", STAKE, int(Position.BULL))
    assert paper_intent == ("paper", "landed", STAKE, int(Position.BULL))
    assert live_attempts == paper_attempts == [("bet", "mined", 1)]
    # the same settlement arithmetic: the paper payout is exactly what the contract pays the live bet
    assert live["status"] == paper["status"] == "won" and live["final"] and paper["final"]
    assert paper["payout_wei"] == live["payout_wei"] > STAKE and paper["stake_wei"] == live["stake_wei"] == STAKE
    assert live["bet_gas_wei"] > 0 and paper["bet_gas_wei"] == 0 and paper["claim_gas_wei"] == live["claim_gas_wei"] == 0
    assert paper["net_pnl_wei"] == live["net_pnl_wei"] + live["bet_gas_wei"] == paper["payout_wei"] - STAKE
    assert (live["origin"], paper["origin"]) == ("bot", "paper")
