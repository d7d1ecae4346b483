"""End to end on anvil: ~26 rounds with journaled bot bets, hand-made bets from the same keys, other bettors, draws,
a missed execution (refunds), one-sided pools, reverted transactions, a claim made outside the bot and paper fills.
After a claim sweep the reconciled PnL of each of our accounts equals its balance change to the wei — from logs, with
every eth_getLogs refused by the endpoint, and on a V2.1 market whose events are unknown."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from web3 import Web3

from bot.domain import Position
from bot.reconcile import Reconciler, ReconcileSettings
from bot.store.db import make_engine, session_factory, session_scope
from bot.store.journal import Intent, TxAttempt
from bot.store.outcomes import AccountTx, ClaimRecord, RoundOutcome, Settlement
from devkit.devnet.faultproxy import FaultPlan, FaultProxy
from tests.reconcile.helpers import Scenario, make_sessions, open_market

pytestmark = pytest.mark.anvil

MILLI = 10**15
BULL, BEAR = Position.BULL, Position.BEAR
FEE_BP = 300


def paper_payout(stake: int, side_pool: int, total: int) -> int:
    """Independent restatement of the contract's payout with our simulated stake added at close."""
    total += stake
    reward = total - total * FEE_BP // 10_000
    return stake * reward // (side_pool + stake)


def scripted_step(sc: Scenario, step: int, a, b, c: str, d: str, paper: dict[int, tuple[Position, int]]) -> None:
    """The bets of the first ten rounds: every case the reconciler must handle."""
    e = sc.epoch()

    def paper_bet(position: Position, amount: int) -> None:
        paper[e] = (position, amount)
        sc.paper_bet(position, amount)

    if step == 0:
        sc.bot_bet(a, BULL, 50 * MILLI)
        sc.hand_bet(c, BEAR, 30 * MILLI)
        sc.hand_bet(d, BULL, 20 * MILLI)
        paper_bet(BULL, 50 * MILLI)
    elif step == 1:
        sc.bot_bet(b, BEAR, 40 * MILLI)
        sc.hand_bet(c, BULL, 50 * MILLI)
    elif step == 2:
        sc.hand_bet(a.address, BULL, 20 * MILLI)  # outside the bot: adopted
        sc.hand_bet(c, BEAR, 20 * MILLI)
    elif step == 3:  # closes flat: house wins
        sc.bot_bet(a, BEAR, 30 * MILLI)
        assert sc.hand_bet(a.address, BEAR, 10 * MILLI)["status"] == 0  # "Can only bet once per round", mined
        sc.bot_bet(b, BULL, 30 * MILLI)
        sc.hand_bet(c, BULL, 10 * MILLI)
        paper_bet(BEAR, 10 * MILLI)
    elif step == 4:  # one-sided: only A, and A's side wins
        sc.bot_bet(a, BULL, 20 * MILLI)
        paper_bet(BULL, 50 * MILLI)
    elif step == 5:  # one-sided: only B on the losing side; paper on the (empty) winning side
        sc.bot_bet(b, BEAR, 20 * MILLI)
        paper_bet(BULL, 10 * MILLI)
    elif step == 6:
        # below the market minimum, not simulated: journaled, mined, reverted (the executor refuses a second bet in a
        # round before sending, so the revert comes from the stake)
        first_try = sc.bot_bet(a, BEAR, MILLI // 2, preflight=False)
        assert first_try.state.value == "reverted", first_try
        sc.hand_bet(a.address, BULL, 30 * MILLI)
        sc.hand_bet(c, BEAR, 50 * MILLI)
    elif step == 7:
        sc.bot_bet(a, BEAR, 40 * MILLI)
        sc.bot_bet(b, BEAR, 10 * MILLI)
        sc.hand_bet(d, BULL, 50 * MILLI)
    elif step == 8:
        sc.bot_bet(a, BULL, 10 * MILLI)
        sc.hand_bet(b.address, BULL, 20 * MILLI)  # B outside the bot
        sc.hand_bet(c, BEAR, 10 * MILLI)
    elif step == 9:
        sc.hand_claim(a.address, [e - 2])  # claim of step 7's win, made outside the bot
        sc.bot_bet(a, BEAR, 20 * MILLI)
        sc.hand_bet(c, BULL, 20 * MILLI)
        paper_bet(BEAR, 20 * MILLI)


def random_step(sc: Scenario, rng: random.Random, a, b, others: list[str]) -> None:
    if rng.random() < 0.7:
        sc.bot_bet(a, rng.choice([BULL, BEAR]), rng.randint(1, 50) * MILLI)
    if rng.random() < 0.4:
        sc.bot_bet(b, rng.choice([BULL, BEAR]), rng.randint(1, 50) * MILLI)
    if rng.random() < 0.6:
        sc.hand_bet(rng.choice(others), rng.choice([BULL, BEAR]), rng.randint(1, 50) * MILLI)


def play(sc: Scenario, a, b, c: str, d: str) -> tuple[int, dict[int, tuple[Position, int]]]:
    """26 rounds; returns the first epoch and the paper fills. The round of step 9 is missed by the operator."""
    first = sc.epoch()
    rng = random.Random(11)
    # outcome of the round bet on at step i: sign of the move at step i + 1 (0: flat close, house wins)
    outcomes = [1, 1, -1, 0, 1, 1, -1, -1, 1, -1, 1, -1] + [rng.choice([1, -1, 1, 0]) for _ in range(14)]
    paper: dict[int, tuple[Position, int]] = {}
    for step in range(len(outcomes)):
        if step < 10:
            scripted_step(sc, step, a, b, c, d, paper)
        else:
            random_step(sc, rng, a, b, [c, d])
        if step == 9:
            sc.miss()  # rounds of steps 8 and 9 never execute: refundable
        else:
            sc.next_round(outcomes[step - 1] * 100 if step else 0)
    for move in (outcomes[-1], 1, 1):
        sc.next_round(move * 100)
    return first, paper


@pytest.fixture(params=["logs", "getlogs-refused", "v2.1-no-events"])
def mode(request, chain):
    """How the reconciler sees the market: logs; a V2 market behind an endpoint refusing every eth_getLogs (the
    fault proxy); a V2.1 market, whose events are unknown. The last two reconcile from contract reads."""
    if request.param != "getlogs-refused":
        yield request.param, None
        return
    with FaultProxy(chain.url, seed=3) as proxy:
        proxy.set_plan(FaultPlan(rate=1.0, kinds=("rpc_error",), methods=frozenset({"eth_getLogs"})))
        yield request.param, proxy


def test_reconciled_pnl_equals_balance_change(chain, deployments, bettors, tmp_path, mode):
    reconcile_and_check(chain, deployments, bettors, make_sessions(tmp_path), mode)


def test_reconciled_pnl_equals_balance_change_on_postgres(chain, deployments, bettors, pg_url):
    """The same books, kept in PostgreSQL (bigint columns, the plain-SQL journal translated): exact to the wei."""
    engine = make_engine(pg_url)
    try:
        reconcile_and_check(chain, deployments, bettors, session_factory(engine), ("logs", None))
    finally:
        engine.dispose()


def reconcile_and_check(chain, deployments, bettors, sessions, mode) -> None:
    name, proxy = mode
    deployment = deployments["v2.1" if name == "v2.1-no-events" else "v2"]
    sc = Scenario.create(chain, deployment, sessions, chain.private_keys[3:5])
    a, b = sc.bots
    start_block = chain.block_number() + 1
    balance0 = {x.address: sc.balance(x.address) for x in (a, b)}
    settings = ReconcileSettings(
        start_blocks={"devnet": start_block}, page_size=4, claim_batch_size=3, confirmations=2, reorg_depth=4
    )
    # the reconciler reads through the proxy when there is one; the bots send to the node directly
    market = open_market(Web3(Web3.HTTPProvider(proxy.url)), deployment) if proxy else sc.market
    rec = Reconciler(sessions, [market], senders={a.address: a.sender, b.address: b.sender}, settings=settings)
    sc.kickoff()
    first, paper = play(sc, a, b, bettors[2], bettors[3])
    last = sc.epoch()

    first_report = rec.reconcile()
    assert first_report.markets[0].logless == (name != "logs")
    if proxy is not None:
        assert proxy.counters().get("rpc_error", 0) > 0  # the logs were asked for, and refused
    sweeper = next(s for s in rec.sweepers if s.account == a.address)
    # ineligible epochs in the candidate list are filtered by the contract check, never sent
    lost, house, hand_claimed, won_one_sided = first + 2, first + 3, first + 7, first + 4
    report = sweeper.claim_epochs([lost, house, hand_claimed, last, won_one_sided])
    assert report.claimed_epochs == [won_one_sided]
    assert sorted(report.ineligible) == sorted([lost, house, hand_claimed, last])

    reports = rec.claim()
    swept = {r.account: r for r in reports}
    assert first in swept[a.address].claimed_epochs  # 25+ rounds back, history longer than the page size
    assert first + 8 in swept[a.address].claimed_epochs and first + 9 in swept[a.address].claimed_epochs  # refunds
    assert first + 8 in swept[b.address].claimed_epochs  # B's hand-made bet refunded by the sweep
    with session_scope(sessions) as s:  # the last claim has one confirmation of the two required
        assert len(s.scalars(select(ClaimRecord).where(ClaimRecord.confirmed.is_(False))).all()) >= 1
    chain.mine()
    rec.reconcile()
    with session_scope(sessions) as s:
        records = s.scalars(select(ClaimRecord)).all()
        assert records and all(r.confirmed and r.status == 1 and r.mismatch == "" for r in records)
        assert all(r.claimed_wei == r.expected_wei for r in records)
    assert all(not r.sent and r.candidates == 0 for r in rec.claim())  # nothing left to claim

    for bot in (a, b):
        check_balance(rec, sessions, bot.address, sc.balance(bot.address) - balance0[bot.address])
    check_settlements(rec, sessions, a.address, b.address, first)
    check_outcomes_and_paper(sessions, first, paper)


def check_balance(rec: Reconciler, sessions, account: str, change: int) -> None:
    """After the sweep: reconciled PnL == balance change, and the per-bet view adds up to the same figure."""
    pnl = rec.account_pnl(account)
    assert pnl.unattributed_txs == 0
    assert pnl.native.unclaimed_wei == 0 and pnl.native.open_stakes_wei == 0
    assert pnl.expected_balance_change_wei == change
    assert pnl.pnl_wei == change, (account, pnl)
    with session_scope(sessions) as s:
        rows = s.scalars(select(Settlement).where(Settlement.account == account, Settlement.mode == "live")).all()
        assert all(r.final for r in rows)
        assert all(r.claimed for r in rows if r.payout_wei > 0)
        per_bet = sum(r.net_pnl_wei for r in rows)
    assert per_bet - pnl.gas_reverted_wei - pnl.gas_other_wei - pnl.gas_approvals_wei == pnl.pnl_wei


def check_settlements(rec: Reconciler, sessions, a: str, b: str, first: int) -> None:
    a_pnl = rec.account_pnl(a)
    assert a_pnl.gas_reverted_wei > 0 and a_pnl.native.refunds_claimed_wei == 30 * MILLI
    with session_scope(sessions) as s:
        live = select(Settlement).where(Settlement.mode == "live")
        by_epoch = {r.epoch: r for r in s.scalars(live.where(Settlement.account == a)).all()}
        assert by_epoch[first].status == "won" and by_epoch[first].claim_tx is not None
        assert by_epoch[first + 2].origin == "adopted" and by_epoch[first + 2].status == "lost"
        assert by_epoch[first + 2].bet_gas_wei > 0  # from the receipt of the hand-made bet
        assert by_epoch[first + 3].status == "house-won" and by_epoch[first + 3].origin == "bot"
        assert by_epoch[first + 4].payout_wei == 20 * MILLI * 97 // 100
        assert by_epoch[first + 6].origin == "adopted"  # the bot's own attempt reverted; the hand bet stands
        assert by_epoch[first + 8].status == by_epoch[first + 9].status == "refund"
        assert by_epoch[first + 7].claimed_wei == by_epoch[first + 7].payout_wei > 0  # claimed by hand
        assert by_epoch[first + 7].claim_gas_wei > 0
        b_rows = {r.epoch: r for r in s.scalars(live.where(Settlement.account == b)).all()}
        assert b_rows[first + 5].status == "house-won"  # nobody on the winning side: the house takes the pot
        assert b_rows[first + 8].origin == "adopted" and b_rows[first + 8].status == "refund"
        # journal: the bot's reverted bet is a mined TxAttempt with status 0, counted as reverted gas
        assert s.scalars(select(TxAttempt).where(TxAttempt.receipt_status == 0)).first() is not None
        kinds = {(t.kind, t.status, t.source) for t in s.scalars(select(AccountTx)).all()}
        assert ("bet", 0, "nonce") in kinds  # the hand-made reverted bet: no event, found by its nonce


def check_outcomes_and_paper(sessions, first: int, paper: dict[int, tuple[Position, int]]) -> None:
    with session_scope(sessions) as s:
        outcomes_rows = {r.epoch: r for r in s.scalars(select(RoundOutcome)).all()}
        assert outcomes_rows[first + 3].status == "house-won" and outcomes_rows[first + 3].direction == 0
        assert outcomes_rows[first + 8].status == "refundable" and outcomes_rows[first + 8].final
        assert outcomes_rows[first].direction == 1 and outcomes_rows[first].log_return > 0
        # paper fills: real outcome, our simulated stake added to our side at close, no gas, kept apart
        papers = {r.epoch: r for r in s.scalars(select(Settlement).where(Settlement.mode == "paper")).all()}
        assert set(papers) == set(paper) and all(r.origin == "paper" for r in papers.values())
        o = outcomes_rows[first]
        assert papers[first].payout_wei == paper_payout(50 * MILLI, o.bull_wei, o.total_wei)
        assert papers[first + 3].status == "house-won" and papers[first + 3].net_pnl_wei == -10 * MILLI
        o5 = outcomes_rows[first + 5]
        assert o5.bull_wei == 0 and papers[first + 5].payout_wei == paper_payout(10 * MILLI, 0, o5.total_wei)
        assert papers[first + 9].status == "refund" and papers[first + 9].net_pnl_wei == 0
        assert s.scalars(select(Intent).where(Intent.mode == "paper")).all()
