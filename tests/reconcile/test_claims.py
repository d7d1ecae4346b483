"""Claim checks: a claim whose Claim events differ from what we computed is logged as an error and recorded;
confirmations are awaited before the check."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.domain import Position
from bot.reconcile import Reconciler, ReconcileSettings
from bot.store.db import session_scope
from bot.store.outcomes import ClaimRecord
from tests.reconcile.helpers import Scenario, make_sessions

pytestmark = pytest.mark.anvil

MILLI = 10**15


def test_claim_event_mismatch_is_logged_and_recorded(chain, v2, bettors, tmp_path, caplog):
    sessions = make_sessions(tmp_path)
    sc = Scenario.create(chain, v2, sessions, [chain.private_keys[3]])
    bot = sc.bots[0]
    settings = ReconcileSettings(start_blocks={"devnet": chain.block_number() + 1}, confirmations=3)
    rec = Reconciler(sessions, [sc.market], senders={bot.address: bot.sender}, settings=settings)
    sc.kickoff()
    won = sc.epoch()
    sc.bot_bet(bot, Position.BULL, 10 * MILLI)
    sc.hand_bet(bettors[1], Position.BEAR, 10 * MILLI)
    sc.next_round(100)
    sc.next_round(100)  # closes `won` up
    chain.mine(chain.chain_time() + 1)  # `claim` needs a block after the close second
    sweeper = rec.sweepers[0]
    honest = sweeper.expected_amounts
    sweeper.expected_amounts = lambda epochs: {e: v + 1 for e, v in honest(epochs).items()}  # a wrong expectation
    report = sweeper.sweep()
    assert report.claimed_epochs == [won] and report.confirmed == 0  # 1 of 3 confirmations
    assert sweeper.claim_epochs([won]).sent == []  # claimed already: filtered, never sent twice
    chain.mine()
    chain.mine()
    with caplog.at_level(logging.ERROR, logger="bot.reconcile.claims"):
        rec.reconcile()
    with session_scope(sessions) as s:
        record = s.scalars(select(ClaimRecord)).one()
        assert record.confirmed and record.status == 1
        assert record.claimed_wei == record.expected_wei - 1
        assert f"epoch {won}: expected" in record.mismatch
    assert any("does not match" in r.getMessage() for r in caplog.records)
