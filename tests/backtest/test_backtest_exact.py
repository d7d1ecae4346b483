"""Exact wei arithmetic: the vectorised payouts equal bot.payout (the one place the formula lives) bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.backtest import exact
from bot.backtest.exact import as_wei_array, exact_sum, payouts_if_win
from bot.domain import Position
from bot.payout import BP_DENOMINATOR, calculate_rewards, expected_payout_if_win, payout_for

I63 = 2**63 - 1
amounts = st.one_of(
    st.integers(0, 10**6),
    st.integers(0, 10**18),
    st.integers(0, 2**62),
    st.integers(2**62, I63),
)
stakes = st.one_of(st.integers(1, 10**15), st.integers(10**15, 10**18), st.integers(1, I63))
fees = st.sampled_from([0, 1, 250, 300, 999, 1000, 10_000])


def reference(stake: int, side: int, other: int, fee: int) -> int:
    """bot.payout's own path: rewards of the round with our stake in it, then payout_for."""
    rewards = calculate_rewards(side + stake + other, side + stake, other, Position.BULL, fee)
    return payout_for(stake, rewards.reward_amount, rewards.reward_base_cal_amount)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(stakes, amounts, amounts, fees), min_size=1, max_size=40))
def test_vectorised_payouts_equal_bot_payout(rows: list[tuple[int, int, int, int]]) -> None:
    stake = np.array([r[0] for r in rows], dtype=np.int64)
    side = np.array([r[1] for r in rows], dtype=np.int64)
    other = np.array([r[2] for r in rows], dtype=np.int64)
    fee = np.array([r[3] for r in rows], dtype=np.int64)
    out = payouts_if_win(stake, side, other, fee)
    for i, (b, s, o, f) in enumerate(rows):
        assert int(out[i]) == reference(b, s, o, f) == expected_payout_if_win(b, s, o, f)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(stakes, st.integers(0, 10**24), st.integers(0, 10**24)), min_size=1, max_size=20))
def test_object_pools_beyond_int64(rows: list[tuple[int, int, int]]) -> None:
    stake = np.array([r[0] for r in rows], dtype=np.int64)
    side = as_wei_array([r[1] for r in rows])
    other = as_wei_array([r[2] for r in rows])
    out = payouts_if_win(stake, side, other, 300)
    assert [int(v) for v in out] == [expected_payout_if_win(b, s, o, 300) for b, s, o in rows]


def test_fast_path_is_used_and_exact_on_large_random_blocks() -> None:
    rng = np.random.default_rng(11)
    n = 200_000
    stake = rng.integers(10**15, 10**17, n)
    side = rng.integers(10**16, 4 * 10**18, n)  # payouts stay below 2**62 wei: no row needs the slow path
    other = rng.integers(0, 4 * 10**18, n)
    q, ok = exact.payout_block(stake.view(np.uint64), side.view(np.uint64), other.view(np.uint64), np.uint64(300))
    assert ok.all()  # nothing left for the slow path in a realistic market
    sample = rng.choice(n, 3000, replace=False)
    for i in sample:
        assert int(q[i]) == expected_payout_if_win(int(stake[i]), int(side[i]), int(other[i]), 300)


def test_near_integer_quotients() -> None:
    # b * R / B within a hair of an integer, where a float estimate alone would round the wrong way
    cases = []
    for base in (3, 7, 10**9 + 7, 2**61 - 1):
        for k in (10**15, 2**50 + 1):
            cases.append((k * base, base, 0))  # reward == total, fee 0: payout = stake * (S + O + b) / (S + b)
    stake = np.array([c[0] % (2**62) or 1 for c in cases], dtype=np.int64)
    side = np.array([c[1] for c in cases], dtype=np.int64)
    other = np.array([c[2] for c in cases], dtype=np.int64)
    out = payouts_if_win(stake, side, other, 0)
    assert [int(v) for v in out] == [expected_payout_if_win(int(b), int(s), int(o), 0) for b, s, o in zip(stake, side, other)]


def test_treasury_split_never_overflows() -> None:
    total = np.array([2**64 - 1 - 5, 10**19, 12345], dtype=np.uint64)
    fee = np.uint64(1000)
    bp = np.uint64(BP_DENOMINATOR)
    whole = total // bp
    split = whole * fee + (total - whole * bp) * fee // bp
    assert [int(v) for v in split] == [int(t) * 1000 // 10_000 for t in total]


@given(st.lists(st.integers(-(2**63), I63), max_size=200))
def test_exact_sum(values: list[int]) -> None:
    assert exact_sum(np.array(values, dtype=np.int64)) == sum(values)


def test_as_wei_array() -> None:
    assert as_wei_array([1, 2]).dtype == np.int64
    big = as_wei_array([1, 2**70])
    assert big.dtype == object and big[1] == 2**70 and isinstance(big[1], int)
    assert as_wei_array(np.array([2**63], dtype=np.uint64)).dtype == object
    with pytest.raises(ValueError):
        as_wei_array(np.array([1.5]))
