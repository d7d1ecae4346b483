"""The other dialects: V3 (ERC-20 stakes, approvals cost native gas) and AI (its own event shapes and positions)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain import Position
from bot.reconcile import Reconciler, ReconcileSettings
from bot.store.db import session_scope
from bot.store.outcomes import RoundOutcome, Settlement
from tests.reconcile.helpers import Scenario, make_sessions

pytestmark = pytest.mark.anvil

MILLI = 10**15


def run_rounds(sc: Scenario, bot, other: str, moves: list[int], scale: int) -> None:
    for i, move in enumerate(moves):
        sc.bot_bet(bot, Position.BULL if i % 2 == 0 else Position.BEAR, (10 + i) * MILLI)
        sc.hand_bet(other, Position.BEAR if i % 3 else Position.BULL, 7 * MILLI)
        sc.next_round(move * scale)
    sc.next_round(scale)
    sc.next_round(-scale)


def test_v3_token_flows_and_approval_gas(chain, v3, bettors, tmp_path):
    sessions = make_sessions(tmp_path)
    sc = Scenario.create(chain, v3, sessions, [chain.private_keys[3]])
    bot = sc.bots[0]
    token = v3.token(chain.w3)
    start = chain.block_number() + 1
    native0, token0 = sc.balance(bot.address), int(token.functions.balanceOf(bot.address).call())
    rec = Reconciler(sessions, [sc.market], senders={bot.address: bot.sender},
                     settings=ReconcileSettings(start_blocks={"devnet": start}))  # fmt: skip
    sc.tick()
    _, receipt = bot.sender.send(sc.market.build_approve(10**24), sc.market.name)  # journaled approval
    assert receipt is not None and receipt.status == 1
    sc.kickoff()
    run_rounds(sc, bot, bettors[1], [1, -1, 1, 1], 100)
    rec.reconcile()
    assert any(r.sent for r in rec.claim())
    rec.reconcile()
    pnl = rec.account_pnl(bot.address)
    assert pnl.gas_approvals_wei > 0 and pnl.native.stakes_wei == 0
    flows = pnl.tokens["devnet"]
    assert flows.unclaimed_wei == 0 and flows.stakes_wei > 0
    assert int(token.functions.balanceOf(bot.address).call()) - token0 == flows.net_wei
    assert sc.balance(bot.address) - native0 == pnl.pnl_wei == pnl.expected_balance_change_wei == -pnl.gas_wei


def test_ai_dialect_outcomes_and_pnl(chain, ai, bettors, tmp_path):
    sessions = make_sessions(tmp_path)
    sc = Scenario.create(chain, ai, sessions, [chain.private_keys[3]])
    bot = sc.bots[0]
    start = chain.block_number() + 1
    native0 = sc.balance(bot.address)
    rec = Reconciler(sessions, [sc.market], senders={bot.address: bot.sender},
                     settings=ReconcileSettings(start_blocks={"devnet": start}))  # fmt: skip
    sc.kickoff()
    run_rounds(sc, bot, bettors[1], [1, -1, 0, 1], 10**18)
    rec.reconcile()
    rec.claim()
    rec.reconcile()
    pnl = rec.account_pnl(bot.address)
    assert pnl.native.unclaimed_wei == 0 and pnl.native.stakes_wei > 0
    assert sc.balance(bot.address) - native0 == pnl.pnl_wei == pnl.expected_balance_change_wei
    with session_scope(sessions) as s:
        outcomes = s.scalars(select(RoundOutcome).where(RoundOutcome.final.is_(True))).all()
        assert outcomes and all(o.ai_price is not None and o.price_decimals == 18 for o in outcomes)
        assert {o.status for o in outcomes} <= {"settled-up", "settled-down", "house-won"}
        statuses = {r.status for r in s.scalars(select(Settlement)).all()}
        assert "won" in statuses
