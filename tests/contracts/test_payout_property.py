"""Property test: random pools and prices through our contracts on anvil; every claim equals bot/payout.py to the wei.

Each example: round 1 gets 1-6 bets of random sides and amounts, is locked and then either settled (close up, down or
flat; AI dialect: AI price up, down or flat too) or never executed (refund). Every bettor's claim is checked against
an independent computation from the inputs with bot.payout, and the contract's view functions against payout's
predicates on the round read back from chain. ``DEVNET_PROPERTY_EXAMPLES`` (default 8) sets the random examples per
dialect; the corner cases (refund, draw, empty winning side, flooring) always run too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from web3.exceptions import ContractLogicError

from bot import payout
from bot.domain import Position
from bot.markets import dialect_for
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.deploy import Deployment, Dialect, MarketConfig, deploy
from devkit.devnet.keeper import Keeper
from tests.contracts.market_helpers import Market

pytestmark = pytest.mark.anvil

MIN_BET = 10**15
EXAMPLES = int(os.environ.get("DEVNET_PROPERTY_EXAMPLES", "8"))  # per dialect; raise it for a longer soak
MOVES = {"up": 1, "down": -1, "flat": 0}


@dataclass(frozen=True)
class Scenario:
    bets: list[tuple[Position, int]]
    fee_bp: int
    lock_price: int
    close_move: int  # signed delta applied to the lock price
    ai_move: int
    executed: bool
    delay: int  # seconds after lock the keeper executes (within the buffer)


def scenarios() -> st.SearchStrategy[Scenario]:
    unit = 10**8  # price scale does not matter to the payout math
    delta = st.sampled_from(sorted(MOVES)).flatmap(
        lambda m: st.just(0) if m == "flat" else st.integers(1, 500 * unit).map(lambda d: d * MOVES[m])
    )
    return st.builds(
        Scenario,
        bets=st.lists(
            st.tuples(st.sampled_from([Position.BULL, Position.BEAR]), st.integers(MIN_BET, 5 * 10**18)),
            min_size=1,
            max_size=6,
        ),
        fee_bp=st.sampled_from([0, 1, 250, 300, 999, 1000]),
        lock_price=st.integers(1_000 * unit, 100_000 * unit),
        close_move=delta,
        ai_move=delta,
        executed=st.sampled_from([True, True, True, False]),
        delay=st.integers(0, 30),
    )


def run_scenario(chain: AnvilNode, market: Deployment, bettors: list[str], sc: Scenario) -> None:
    w3 = chain.w3
    m = Market(w3, market)
    ai = market.dialect == "ai"
    keeper = Keeper(w3, market)
    fee = market.config.treasury_fee_bp
    buffer = market.config.buffer_seconds
    lock, close, ai_price = sc.lock_price, sc.lock_price + sc.close_move, sc.lock_price + sc.ai_move

    t0 = chain.chain_time() + 10
    keeper.genesis_start(ai_price if ai else None, at=t0)
    players = bettors[: len(sc.bets)]
    for i, (player, (side, amount)) in enumerate(zip(players, sc.bets, strict=True)):
        m.bet(player, side, amount, at=t0 + 1 + i)
    keeper.genesis_lock(lock, lock if ai else None, at=t0 + 300)

    if sc.executed:
        ev = keeper.execute(close, lock if ai else None, at=t0 + 600 + sc.delay)
        now = ev.timestamp + 1
    else:
        now = t0 + 600 + buffer + 1  # close(1) + buffer passed, never executed
    chain.mine(now)

    total = sum(a for _, a in sc.bets)
    bull = sum(a for s, a in sc.bets if s is Position.BULL)
    winner = payout.ai_winning_position(lock, close, ai_price) if ai else payout.winning_position(lock, close)
    rewards = payout.calculate_rewards(
        total, bull, total - bull, winner, fee, empty_side_to_treasury=dialect_for(market.dialect).empty_side_to_treasury
    )
    rnd = m.round(1)
    if sc.executed:
        assert (rnd.reward_base_cal_amount, rnd.reward_amount) == (
            rewards.reward_base_cal_amount,
            rewards.reward_amount,
        )
        assert m.treasury() == rewards.treasury_amount
    else:
        assert not rnd.oracle_called and m.treasury() == 0

    paid = 0
    for player, (side, amount) in zip(players, sc.bets, strict=True):
        if not sc.executed:
            expected = amount
        elif side is winner and rewards.reward_base_cal_amount > 0:
            expected = payout.payout_for(amount, rewards.reward_amount, rewards.reward_base_cal_amount)
        else:
            expected = 0
        entry = m.ledger(1, player)
        assert (entry.position, entry.amount, entry.claimed) == (side, amount, False)
        assert payout.claim_amount(rnd, entry, now, buffer) == expected
        assert m.claimable(1, player) == payout.is_claimable(rnd, entry)
        assert m.refundable(1, player) == payout.is_refundable(rnd, entry, now, buffer)
        if expected:
            paid += m.claim(player, [1])
            assert m.ledger(1, player).claimed
        else:
            with pytest.raises(ContractLogicError, match="Not eligible for (claim|refund)"):
                m.contract.functions.claim([1]).call({"from": player})
    expected_paid = total if not sc.executed else total - rewards.treasury_amount
    dust = expected_paid - paid
    winners = sum(1 for s, _ in sc.bets if s is winner)
    assert 0 <= dust <= max(winners - 1, 0) or (sc.executed and rewards.reward_base_cal_amount == 0 and paid == 0)


B, R = Position.BULL, Position.BEAR
PRICE = 60_000 * 10**8
# Always-run corner cases, on top of the random ones.
REFUND = Scenario([(B, 10**18), (R, 3 * 10**15)], 300, PRICE, 5, 5, False, 0)
DRAW = Scenario([(B, 10**18), (R, 2 * 10**18)], 300, PRICE, 0, 7, True, 30)  # AI: called a move, none happened
EMPTY_WINNING_SIDE = Scenario([(R, 10**18), (R, 10**15)], 250, PRICE, 9, 9, True, 1)
FLOORING = Scenario(
    [(B, 10**15 + 1), (B, 10**15 + 7), (R, 10**18 + 3), (B, 333333333333333333)], 999, PRICE, 1, 2, True, 0
)


@pytest.mark.parametrize("dialect", ["v2", "v2.1", "ai"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sc=scenarios())
@example(sc=REFUND)
@example(sc=DRAW)
@example(sc=EMPTY_WINNING_SIDE)
@example(sc=FLOORING)
def test_claims_match_payout_math(
    anvil: AnvilNode, deployments: dict[str, Deployment], bettors: list[str], dialect: Dialect, sc: Scenario
) -> None:
    """V2, V2.1 and AI: a fresh market per example with the scenario's fee."""
    snapshot = anvil.snapshot()
    try:
        market = deploy(dialect, anvil.w3, MarketConfig(treasury_fee_bp=sc.fee_bp))
        run_scenario(anvil, market, bettors, sc)
    finally:
        anvil.revert(snapshot)


@settings(
    max_examples=max(EXAMPLES // 3, 1), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sc=scenarios())
@example(sc=REFUND)
@example(sc=FLOORING)
def test_token_claims_match_payout_math(
    anvil: AnvilNode, deployments: dict[str, Deployment], bettors: list[str], sc: Scenario
) -> None:
    """V3: the session market (3 % fee, funded bettors); the scenario's fee is ignored."""
    snapshot = anvil.snapshot()
    try:
        run_scenario(anvil, deployments["v3"], bettors, sc)
    finally:
        anvil.revert(snapshot)
