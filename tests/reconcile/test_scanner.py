"""Event scanning on anvil: adaptive chunks, persisted cursor, idempotent re-scans, and a reorg (snapshot/revert)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain import Position
from bot.reconcile import ChunkPolicy, MarketEventScanner, Reconciler, ReconcileSettings
from bot.store.db import session_scope
from bot.store.outcomes import AccountEvent, AccountTx, ScanCursor, Settlement
from tests.reconcile.helpers import Scenario, make_sessions

pytestmark = pytest.mark.anvil

MILLI = 10**15


def events(sessions) -> list[tuple[str, int, str, int, int]]:
    with session_scope(sessions) as s:
        rows = s.scalars(select(AccountEvent).order_by(AccountEvent.block_number, AccountEvent.log_index)).all()
        return [(r.tx_hash, r.log_index, r.name, r.epoch, r.amount_wei) for r in rows]


def limited(scanner, max_blocks: int):
    """Make a LogScanner behave like a node that refuses wide eth_getLogs ranges."""
    original = scanner.fetch
    calls: list[tuple[int, int]] = []

    def fetch(from_block: int, to_block: int):
        calls.append((from_block, to_block))
        if to_block - from_block + 1 > max_blocks:
            raise ValueError("query returned more than 10000 results")
        return original(from_block, to_block)

    scanner.fetch = fetch
    return calls


def test_adaptive_chunks_cursor_and_idempotent_rescan(chain, v2, bettors, tmp_path):
    sessions = make_sessions(tmp_path)
    sc = Scenario.create(chain, v2, sessions, [])
    ours, other = bettors[0], bettors[1]
    start = chain.block_number() + 1
    sc.kickoff()
    for i in range(5):
        sc.hand_bet(ours, Position.BULL if i % 2 else Position.BEAR, (i + 1) * MILLI)
        sc.hand_bet(other, Position.BULL, MILLI)
        if i == 3:
            sc.hand_claim(ours, [sc.epoch() - 2])  # step 1's bull bet won (price up below)
        sc.next_round(100)
    head = chain.block_number()

    policy = ChunkPolicy(initial=4, max_size=64)
    scanner = MarketEventScanner(sc.market, sessions, [ours], start_block=start, reorg_depth=3, policy=policy)
    calls = limited(scanner.account, 6)
    limited(scanner.rounds, 6)
    summary = scanner.scan(head)
    found = events(sessions)
    assert [e[2] for e in found].count("Claim") == 1 and len(found) == 6  # 5 bets + 1 claim, none of `other`
    assert summary.touched_epochs >= set(range(1, sc.epoch() + 1))
    refused = [c for c in calls if c[1] - c[0] + 1 > 6]
    assert refused, "the chunk grew until the node refused, then shrank"
    assert max(b - a + 1 for a, b in calls if (a, b) not in refused) <= 6

    # a fresh scanner (e.g. after a restart) resumes from the persisted cursor, re-scanning only the reorg window
    again = MarketEventScanner(sc.market, sessions, [ours], start_block=start, reorg_depth=3, policy=policy)
    assert again.account.cursor()[:2] == (start, head)
    calls2 = limited(again.account, 6)
    again.scan(head)
    assert calls2[0][0] == head - 2
    assert events(sessions) == found  # idempotent
    with session_scope(sessions) as s:
        kinds = {c.kind for c in s.scalars(select(ScanCursor)).all()}
    assert kinds == {"rounds", "account"}


def test_reorg_window_rescan_replaces_orphaned_logs(chain, v2, tmp_path):
    sessions = make_sessions(tmp_path)
    sc = Scenario.create(chain, v2, sessions, [chain.private_keys[3]])
    bot = sc.bots[0]
    settings = ReconcileSettings(start_blocks={"devnet": chain.block_number() + 1}, reorg_depth=8)
    rec = Reconciler(sessions, [sc.market], senders={bot.address: bot.sender}, settings=settings)
    sc.kickoff()
    epoch = sc.epoch()
    snapshot = chain.snapshot()
    orphan = sc.hand_bet(bot.address, Position.BULL, 10 * MILLI)
    rec.reconcile()
    assert [(e[2], e[4]) for e in events(sessions)] == [("BetBull", 10 * MILLI)]

    chain.revert(snapshot)  # the block with the bull bet is gone; the same account bets bear instead
    sc._resync(bot.address)
    replacement = sc.hand_bet(bot.address, Position.BEAR, 20 * MILLI)
    chain.mine()
    rec.reconcile()
    assert [(e[2], e[4]) for e in events(sessions)] == [("BetBear", 20 * MILLI)]
    with session_scope(sessions) as s:
        hashes = set(s.scalars(select(AccountTx.tx_hash)).all())
        settlement = s.scalars(select(Settlement).where(Settlement.epoch == epoch)).one()
        assert settlement.position == int(Position.BEAR) and settlement.stake_wei == 20 * MILLI
    assert orphan["transactionHash"].to_0x_hex() not in hashes
    assert replacement["transactionHash"].to_0x_hex() in hashes
