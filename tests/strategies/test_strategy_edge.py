"""The edge strategy: EV and Kelly arithmetic with our own dilution, pinned on hand-computed numbers, plus properties."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import Position
from bot.payout import expected_payout_if_win, gross_multiple
from strategies import EdgeStrategy, make_context
from strategies.edge import edge_decide_scalar
from strategies.kelly import (
    edge_cap_scalar,
    expected_value,
    kelly_fixed_point,
    kelly_stake,
    kelly_stake_scalar,
)

ETH = 10**18
BIG: dict[str, Any] = {"max_stake_wei": 10 * ETH, "bankroll_fraction": 1.0}  # caps that never bind


def one(strategy: EdgeStrategy, p: float, bull: int, bear: int, bankroll: int = ETH, fee: int = 300):
    return strategy.decide_one(
        p_up=p, bull_pool_wei=bull, bear_pool_wei=bear, fee_bp=fee, bankroll_wei=bankroll, min_bet_wei=10**15
    )


# Worked example: bull pool S = 3, total T = 10 (ether), fee 3 % (g = 0.97), p_up = 0.6, bankroll 1, quarter Kelly.
# Without our stake the bull multiple is 10 * 0.97 / 3 = 3.2333 and EV = 0.6 * 3.2333 - 1 = 0.94.
# The consistent stake solves b = A * k(m(b)) with A = 0.25, m(b) = (10 + b) 0.97 / (3 + b), k(m) = (q m - 1)/(m - 1):
#   E  = q g T - S           = 0.582 * 10 - 3              = 2.82
#   a1 = g T - S + A(1 - q g) = 9.7 - 3 + 0.25 * 0.418      = 6.8045
#   D  = a1^2 - 4 (1 - g) A E = 46.30122025 - 0.0846         = 46.21662025
#   b  = 2 A E / (a1 + sqrt D) = 1.41 / (6.8045 + 6.79828...) = 0.1036552770... ether
def on_the_grid_below(stake_wei: int, exact: float) -> bool:
    """The stake is the exact float stake floored to the stake grid (bot.money: micro-coins for a 0.001 min bet)."""
    grid = 10**12
    return stake_wei % grid == 0 and 0 <= exact - stake_wei < grid * (1 + 1e-9)


HAND_KELLY_ETHER = 1.41 / (6.8045 + math.sqrt(46.21662025))


def test_hand_computed_kelly_stake_with_dilution() -> None:
    assert HAND_KELLY_ETHER == pytest.approx(0.10365527702, rel=1e-10)
    b = kelly_stake_scalar(0.6, 3.0, 10.0, 300, 1.0, 0.25)
    assert b == pytest.approx(HAND_KELLY_ETHER, rel=1e-12)
    # it is the fixed point b = A k(m(b)) ...
    m = (10 + b) * 0.97 / (3 + b)
    assert 0.25 * (0.6 * m - 1) / (m - 1) == pytest.approx(b, rel=1e-12)
    # ... which iterating b <- A k(m(b)) converges to
    assert kelly_fixed_point(0.6, 3.0, 10.0, 300, 1.0, 0.25) == pytest.approx(b, rel=1e-9)
    # and dilution matters: Kelly at the undiluted multiple 3.2333 would stake 0.25 * 0.9 * ... more
    m0 = 10 * 0.97 / 3
    assert 0.25 * (0.6 * m0 - 1) / (m0 - 1) > b
    # the vectorised form and wei units agree
    vec = kelly_stake(np.array([0.6]), np.array([3e18]), np.array([1e19]), np.array([300.0]), np.array([1e18]), 0.25)
    assert vec[0] == pytest.approx(HAND_KELLY_ETHER * 1e18, rel=1e-12)


def test_edge_decision_uses_the_kelly_stake_when_no_cap_binds() -> None:
    d = one(EdgeStrategy(**BIG), 0.6, 3 * ETH, 7 * ETH)
    assert d.side is Position.BULL
    assert on_the_grid_below(d.stake_wei, HAND_KELLY_ETHER * 1e18)
    assert d.reason.startswith("bet: kelly")
    # EV after dilution, at the stake actually bet: q (T + b) g / (S + b) - 1
    b = d.stake_wei / 1e18
    assert 0.6 * (10 + b) * 0.97 / (3 + b) - 1 == pytest.approx(0.6 * gross_multiple(3 * ETH, 10 * ETH, 300, d.stake_wei) - 1)
    assert f"ev={0.6 * (10 + b) * 0.97 / (3 + b) - 1:.4g}" in d.reason


def test_caps_bind_in_order() -> None:
    d = one(EdgeStrategy(), 0.6, 3 * ETH, 7 * ETH)  # default bankroll_fraction 5 % of 1 ether
    assert (d.stake_wei, d.reason.split(" (")[0]) == (5 * 10**16, "bet: capped at bankroll fraction")
    d = one(EdgeStrategy(max_stake_wei=2 * 10**16), 0.6, 3 * ETH, 7 * ETH)
    assert (d.stake_wei, d.reason.split(" (")[0]) == (2 * 10**16, "bet: capped at max stake")


def test_min_edge_caps_the_stake_where_dilution_eats_the_edge() -> None:
    # EV(b) = 0.582 (10 + b) / (3 + b) - 1 >= 0.9  <=>  b <= (5.82 - 1.9 * 3) / (1.9 - 0.582) = 0.12 / 1.318
    cap = 0.12 / 1.318
    assert edge_cap_scalar(0.6, 3.0, 10.0, 300, 0.9) == pytest.approx(cap, rel=1e-12)
    d = one(EdgeStrategy(min_edge=0.9, **BIG), 0.6, 3 * ETH, 7 * ETH)
    assert cap < HAND_KELLY_ETHER
    assert on_the_grid_below(d.stake_wei, cap * 1e18)
    assert d.reason.startswith("bet: capped where dilution meets min edge")
    b = d.stake_wei / 1e18
    assert 0.9 <= 0.6 * (10 + b) * 0.97 / (3 + b) - 1 < 0.9 + 1e-6  # the grid's floor keeps the edge, just


@pytest.mark.parametrize(
    ("p", "bull", "bear", "min_edge"),
    [
        (0.5, 5, 5, 0.0),  # balanced pools, coin-flip signal: EV = 0.5 * 0.97 * 2 - 1 = -0.03 on both sides
        (0.515, 5, 5, 0.0),  # EV(bull) = 0.515 * 1.94 - 1 = -0.0009: the fee eats the edge
        (0.52, 5, 5, 0.02),  # EV(bull) ~ +0.0088 but below min_edge
        (0.6, 6, 4, 0.0),  # the crowd already priced it: 0.6 * 0.97 * 10 / 6 - 1 = -0.03
    ],
)
def test_skips_when_edge_is_not_positive(p: float, bull: int, bear: int, min_edge: float) -> None:
    d = one(EdgeStrategy(min_edge=min_edge), p, bull * ETH, bear * ETH)
    assert d.side is None and d.stake_wei == 0
    assert d.reason == "skip: no edge"


def test_small_positive_edge_bets_when_min_edge_allows() -> None:
    d = one(EdgeStrategy(min_edge=0.0), 0.52, 5 * ETH, 5 * ETH)
    assert d.side is Position.BULL and d.stake_wei > 0


def test_no_signal_and_stale_signal_skip() -> None:
    s = EdgeStrategy(max_signal_age=60)
    kw = {"bull_pool_wei": ETH, "bear_pool_wei": 9 * ETH, "fee_bp": 300, "bankroll_wei": ETH, "min_bet_wei": 10**15}
    assert s.decide_one(**kw).reason == "skip: no signal"
    assert s.decide_one(p_up=0.9, signal_age=61.0, **kw).reason == "skip: stale signal"
    assert s.decide_one(p_up=0.9, signal_age=59.0, **kw).side is Position.BULL


def test_bankroll_too_small_for_min_bet_skips() -> None:
    d = one(EdgeStrategy(), 0.9, ETH, 9 * ETH, bankroll=10**16)  # 5 % of 0.01 = 0.0005 < min bet 0.001
    assert d.side is None and d.reason == "skip: stake below min bet"


def test_live_exact_ints_beyond_int64() -> None:
    # pools above 2**63 wei (real BNB rounds) pass through the one-row frame as exact Python ints
    d = one(EdgeStrategy(**BIG), 0.6, 30 * ETH, 70 * ETH, bankroll=10 * ETH)
    assert d.side is Position.BULL and isinstance(d.stake_wei, int)
    assert on_the_grid_below(d.stake_wei, 10 * HAND_KELLY_ETHER * 1e18)  # the problem scales with the pools


def test_rejects_bad_parameters() -> None:
    for kwargs in ({"kelly_fraction": 0}, {"kelly_fraction": 1.5}, {"min_edge": -0.1}, {"bankroll_fraction": 0}):
        with pytest.raises(ValueError):
            EdgeStrategy(**kwargs)  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------------------------------

pools = st.integers(min_value=0, max_value=50 * ETH)
dyadic_p = st.integers(min_value=0, max_value=1024).map(lambda k: k / 1024)  # 1 - (1 - p) == p exactly
strategies_ = st.builds(
    EdgeStrategy,
    min_edge=st.sampled_from([0.0, 0.02, 0.1]),
    kelly_fraction=st.sampled_from([0.1, 0.25, 1.0]),
    max_stake_wei=st.sampled_from([10**16, 10**17, 10**19]),
    bankroll_fraction=st.sampled_from([0.01, 0.05, 1.0]),
)


@settings(max_examples=150, deadline=None)
@given(
    strategy=strategies_,
    p=st.floats(0, 1),
    bull=pools,
    bear=pools,
    bankroll=st.integers(10**15, 100 * ETH),
    fee=st.sampled_from([0, 100, 300, 1000]),
)
def test_never_stakes_above_caps_and_keeps_its_min_edge(
    strategy: EdgeStrategy, p: float, bull: int, bear: int, bankroll: int, fee: int
) -> None:
    d = one(strategy, p, bull, bear, bankroll=bankroll, fee=fee)
    if d.side is None:
        assert d.stake_wei == 0
        return
    assert 10**15 <= d.stake_wei <= min(strategy.max_stake_wei, bankroll)
    assert d.stake_wei <= strategy.bankroll_fraction * bankroll * (1 + 1e-12)
    side_pool, other = (bull, bear) if d.side is Position.BULL else (bear, bull)
    q = p if d.side is Position.BULL else 1 - p
    # the exact payout of the stake actually bet still clears the minimum edge (up to float rounding)
    exact_ev = q * expected_payout_if_win(d.stake_wei, side_pool, other, fee) / d.stake_wei - 1
    assert exact_ev >= strategy.min_edge - 1e-6


@settings(max_examples=100, deadline=None)
@given(strategy=strategies_, p=dyadic_p, bull=pools, bear=pools)
def test_symmetric_swapping_pools_and_p_swaps_sides(strategy: EdgeStrategy, p: float, bull: int, bear: int) -> None:
    a = one(strategy, p, bull, bear)
    b = one(strategy, 1 - p, bear, bull)
    if a.side is None:
        assert b.side is None
    else:
        assert b.side is Position(1 - a.side)
        assert b.stake_wei == a.stake_wei


@settings(max_examples=50, deadline=None)
@given(strategy=strategies_, bull=pools, bear=pools)
def test_nan_signal_always_skips(strategy: EdgeStrategy, bull: int, bear: int) -> None:
    assert one(strategy, math.nan, bull, bear).side is None


def test_vectorised_matches_scalar_twin_exactly() -> None:
    rng = np.random.default_rng(1)
    n = 5000
    p = rng.uniform(0, 1, n)
    p[::97] = np.nan
    bull = np.floor(rng.lognormal(42, 1.5, n))
    bear = np.floor(rng.lognormal(42, 1.5, n))
    bull[::101] = 0
    for strategy in (EdgeStrategy(), EdgeStrategy(min_edge=0.0, kelly_fraction=1.0, **BIG), EdgeStrategy(stake_wei=3 * 10**16)):
        ctx = make_context(p_up=p, bull_pool_wei=bull, bear_pool_wei=bear, fee_bp=300.0, bankroll_wei=1e18, min_bet_wei=1e15)
        out = strategy.decide(ctx)
        reasons = out["reason"].astype(str).tolist()
        for i in range(n):
            side, stake, reason = edge_decide_scalar(strategy, p[i], bull[i], bear[i], 300.0, 1e18, 1e15)
            assert (side, stake, reason) == (int(out["side"].iat[i]), int(out["stake_wei"].iat[i]), reasons[i]), i


def test_chunking_does_not_change_decisions() -> None:
    rng = np.random.default_rng(2)
    n = 70_000
    ctx = make_context(
        p_up=rng.uniform(0.3, 0.7, n),
        bull_pool_wei=rng.uniform(1e17, 5e18, n),
        bear_pool_wei=rng.uniform(1e17, 5e18, n),
        fee_bp=300.0,
        bankroll_wei=1e18,
        min_bet_wei=1e15,
    )
    whole = EdgeStrategy().decide(ctx)
    small = EdgeStrategy()
    small.chunk_rows = 1000  # type: ignore[misc]
    assert small.decide(ctx).equals(whole)
    assert EdgeStrategy().decide(ctx.iloc[40_000:].reset_index(drop=True)).equals(whole.iloc[40_000:].reset_index(drop=True))


def test_expected_value_helper_matches_payout_module() -> None:
    ev = expected_value(np.array([0.6]), np.array([3e18]), np.array([1e19]), np.array([300.0]), np.array([5e16]))
    assert ev[0] == pytest.approx(0.6 * gross_multiple(3 * ETH, 10 * ETH, 300, 5 * 10**16) - 1)
