"""The vectorised engine: exact settlement against bot.payout, dilution, draws, refunds, gas, ruin, sizing, dialects."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.backtest.engine import EngineConfig, PreparedRounds, bets_fingerprint, build_context, run_engine
from bot.backtest.exact import as_wei_array
from bot.backtest.market import HOUSE, LOST, REFUND, WON
from bot.backtest.metrics import compute_metrics
from bot.backtest.reference import reference_edge_backtest
from bot.backtest.rounds import PoolModel
from bot.backtest.settlement import settle
from bot.backtest.synthetic import synthetic_market
from bot.domain import LedgerEntry, Position, Round
from bot.payout import ai_winning_position, calculate_rewards
from bot.payout import settle as payout_settle
from strategies import AiFollowStrategy, AlwaysBullStrategy, EdgeStrategy, FollowStrategy

ETH = 10**18


def rounds_frame(rows: list[tuple[int, int, int, int, bool]], **extra: list[int]) -> pd.DataFrame:
    """rows: (lock_price, close_price, bull_wei, bear_wei, oracle_called), epochs 1.., 300 s apart."""
    n = len(rows)
    lock_ts = 1_700_000_000 + 300 * np.arange(1, n + 1)
    frame = pd.DataFrame(
        {
            "epoch": np.arange(1, n + 1),
            "start_ts": lock_ts - 300,
            "lock_ts": lock_ts,
            "close_ts": lock_ts + 300,
            "lock_price": [r[0] for r in rows],
            "close_price": [r[1] for r in rows],
            "bull_wei": as_wei_array([r[2] for r in rows]),
            "bear_wei": as_wei_array([r[3] for r in rows]),
            "oracle_called": [r[4] for r in rows],
            **extra,
        }
    )
    return frame


def chain_payout(lock: int, close: int, bull: int, bear: int, called: bool, side: int, stake: int, fee: int) -> int:
    """What the contract pays our bet: build the Round with our stake in its pool and ask bot.payout.settle."""
    bull += stake if side == 0 else 0
    bear += stake if side == 1 else 0
    winner = None if lock == close else (Position.BULL if close > lock else Position.BEAR)
    rewards = calculate_rewards(bull + bear, bull, bear, winner, fee, empty_side_to_treasury=True)
    rnd = Round(1, 1, 2, 3, lock, close, bull + bear, bull, bear, rewards.reward_base_cal_amount, rewards.reward_amount, called)
    return payout_settle(rnd, LedgerEntry(1, Position(side), stake, False), now=10**9, buffer_seconds=30)


def test_hand_settlement_dilution_draw_refund_gas() -> None:
    rounds = rounds_frame(
        [
            (100, 110, 3 * ETH, 7 * ETH, True),  # up: our bull bet wins, diluted by our own stake
            (100, 100, 5 * ETH, 5 * ETH, True),  # draw: the house takes the pot
            (100, 90, 5 * ETH, 5 * ETH, False),  # never executed: refund in full
            (100, 90, 5 * ETH, 5 * ETH, True),  # down: our bull bet loses
        ]
    )
    cfg = EngineConfig(fee_bp=300, gas_per_bet_wei=10**13, gas_per_claim_wei=2 * 10**13)
    stake = 10**17
    res = run_engine(rounds, None, AlwaysBullStrategy(stake_wei=stake), cfg)
    bets = res.bets
    # round 1 by hand: T' = 10.1, treasury = floor(10.1e18 * 300 / 1e4) = 0.303e18, R = 9.797e18, B = 3.1e18
    win = stake * (101 * 10**17 - 303 * 10**15) // (31 * 10**17)
    assert win == 316032258064516129 == chain_payout(100, 110, 3 * ETH, 7 * ETH, True, 0, stake, 300)
    assert bets["payout_wei"].tolist() == [win, 0, stake, 0]
    assert bets["result"].tolist() == [WON, HOUSE, REFUND, LOST]
    gas = [3 * 10**13, 10**13, 3 * 10**13, 10**13]  # claims on the win and the refund
    assert bets["pnl_wei"].tolist() == [p - stake - g for p, g in zip([win, 0, stake, 0], gas, strict=True)]
    assert res.final_bankroll_wei == ETH + win + stake - 4 * stake - sum(gas)
    assert res.gas_wei == sum(gas) and res.staked_wei == 4 * stake
    # without dilution the same bet would have been paid 10e18 * 0.97 / 3e18 per wei: more
    assert win < stake * 97 * 10 // 300


pools = st.one_of(st.integers(0, 10 * ETH), st.integers(0, 2**62), st.integers(0, 10**22))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(1, 5),
            st.integers(1, 5),
            pools,
            pools,
            st.booleans(),
            st.integers(-1, 1),
            st.integers(10**15, 10**18),
        ),
        min_size=1,
        max_size=30,
    ),
    fee=st.sampled_from([0, 300, 1000]),
)
def test_every_settled_bet_equals_bot_payout(rows: list[tuple], fee: int) -> None:
    rounds = rounds_frame([(r[0], r[1], r[2], r[3], r[4]) for r in rows])
    side = np.array([r[5] for r in rows], dtype=np.int8)
    stake = np.array([r[6] if r[5] >= 0 else 0 for r in rows], dtype=np.int64)
    cfg = EngineConfig(fee_bp=fee, bankroll_wei=10**30, stop_on_ruin=False)
    prep = PreparedRounds.from_frame(rounds)
    out = settle(prep, side, stake, cfg)
    expected = [
        chain_payout(r[0], r[1], r[2], r[3], r[4], r[5], r[6], fee) for r in rows if r[5] >= 0
    ]
    assert [int(v) for v in out.bets["payout_wei"]] == expected
    assert out.payout == sum(expected)
    if prep.bull.dtype == np.int64 and prep.bear.dtype == np.int64:
        generic = settle(prep, side, stake, cfg, force_generic=True)
        pd.testing.assert_frame_equal(out.bets, generic.bets, check_dtype=False)
        assert (out.final_equity, out.staked, out.gas) == (generic.final_equity, generic.staked, generic.gas)


def test_vectorised_engine_equals_the_per_round_loop() -> None:
    rounds, signals = synthetic_market(20_000, seed=3)
    cfg = EngineConfig(gas_per_bet_wei=10**13, gas_per_claim_wei=2 * 10**13)
    res = run_engine(rounds, signals, EdgeStrategy(), cfg)
    ref = reference_edge_backtest(rounds, signals["p_up"].tolist(), EdgeStrategy(), cfg)
    assert bets_fingerprint(res.bets) == ref.fingerprint
    d = res.decisions
    assert list(zip(d["side"].tolist(), d["stake_wei"].tolist(), d["reason"].astype(str).tolist(), strict=True)) == ref.decisions
    rows = list(res.bets.itertuples(index=False, name=None))
    assert rows == [tuple(b) for b in ref.bets]  # every column of every bet, equity path included
    _same_metrics(compute_metrics(res), ref.metrics)


def _same_metrics(vec: dict, loop: dict) -> None:
    assert vec.keys() == loop.keys()
    for key, value in loop.items():
        if isinstance(value, float) and vec[key] is not None:
            assert vec[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key
        elif key == "fees_wei":
            assert vec[key] == pytest.approx(value, rel=1e-9)
        else:
            assert vec[key] == value, key


def test_ruin_stops_betting_at_the_first_unaffordable_bet() -> None:
    skilled_crowd = PoolModel(43.0, 0.4, 20.0, 5.0, 5.0, 20.0)  # the crowd is right: betting the small pool loses
    rounds, signals = synthetic_market(5000, seed=4, skill=0.0, pool_model=skilled_crowd)
    cfg = EngineConfig(bankroll_wei=3 * 10**16, gas_per_bet_wei=10**13)
    res = run_engine(rounds, signals, EdgeStrategy(), cfg)
    ref = reference_edge_backtest(rounds, signals["p_up"].tolist(), EdgeStrategy(), cfg)
    assert res.ruined_epoch is not None and res.ruined_epoch == ref.metrics["ruined_epoch"]
    assert bets_fingerprint(res.bets) == ref.fingerprint
    reasons = res.decisions["reason"].astype(str)
    ruined_rows = reasons == "skip: bankroll exhausted"
    assert ruined_rows.any() and (res.decisions["side"][ruined_rows] == -1).all()
    assert int(res.bets["epoch"].max()) < res.ruined_epoch
    last_equity = res.bets["equity_wei"].iat[-1]
    assert res.final_bankroll_wei == pytest.approx(last_equity, rel=1e-12)
    _same_metrics(compute_metrics(res), ref.metrics)


def test_rebalanced_sizing_uses_the_bankroll_at_each_block_start() -> None:
    rounds, signals = synthetic_market(3000, seed=5)
    cfg = EngineConfig(rebalance_every=1000)
    res = run_engine(rounds, signals, EdgeStrategy(bankroll_fraction=0.02), cfg)
    bankrolls = res.context["bankroll_wei"].to_numpy()
    assert bankrolls[0] == 1e18
    first_block = res.bets[res.bets["round_index"] < 1000]
    assert bankrolls[1000] == pytest.approx(1e18 + first_block["pnl_wei"].sum(), rel=1e-12)
    assert len(set(bankrolls[1000:2000])) == 1 and bankrolls[1000] != bankrolls[0]
    fixed = run_engine(rounds, signals, EdgeStrategy(bankroll_fraction=0.02), EngineConfig())
    # block 1 is sized identically either way; later blocks differ
    assert res.bets[res.bets["round_index"] < 1000].equals(fixed.bets[fixed.bets["round_index"] < 1000])
    assert not res.bets.equals(fixed.bets)


def test_ai_dialect_outcomes_and_directions() -> None:
    rows = [(100, 110, ETH, ETH, True), (100, 110, ETH, ETH, True), (100, 100, ETH, ETH, True), (100, 90, ETH, ETH, False)]
    ai = [120, 90, 100, 80]
    rounds = rounds_frame(rows, ai_price=ai, start_price=[105, 95, 100, 90])
    prep = PreparedRounds.from_frame(rounds, "ai")
    expected = [int(ai_winning_position(r[0], r[1], a)) for r, a in zip(rows, ai, strict=True)]
    assert prep.outcome.tolist()[:3] == expected[:3] == [0, 1, 0]  # right, wrong, all equal counts as right
    assert prep.outcome[3] == 3  # not executed: refund
    assert prep.ai_direction.tolist() == [1.0, -1.0, 0.0, -1.0]  # AI price vs the price when the round started
    signals = pd.DataFrame({"p_up": [0.8, 0.8, 0.8, 0.2], "predicted_return": np.nan, "signal_age": 10.0})
    res = run_engine(prep, signals, AiFollowStrategy(), EngineConfig(dialect="ai"))
    # agree -> Bull ("AI right"), disagree -> Bear; no AI direction -> skip
    assert res.decisions["side"].tolist() == [0, 1, -1, 0]
    assert res.bets["result"].tolist() == [WON, WON, REFUND]
    without_start = rounds.drop(columns="start_price")
    prep2 = PreparedRounds.from_frame(without_start, "ai")
    assert prep2.ai_direction.tolist() == [0.0, -1.0, 0.0, -1.0]  # previous round's lock price as the reference
    with pytest.raises(ValueError, match="ai_price"):
        PreparedRounds.from_frame(rounds.drop(columns="ai_price"), "ai")


def test_context_columns_and_exact_pools() -> None:
    rounds, signals = synthetic_market(100, seed=6)
    prep = PreparedRounds.from_frame(rounds)
    ctx = build_context(prep, signals, EngineConfig(bankroll_wei=2 * ETH, lead_seconds=3.0))
    assert ctx["bull_pool_wei"].dtype == np.int64  # exact pools; strategies read them as float64 chunk by chunk
    assert (ctx["bankroll_wei"] == 2e18).all() and (ctx["seconds_to_lock"] == 3.0).all()
    assert ctx["p_up"].equals(signals["p_up"])
    with pytest.raises(ValueError, match="signals have"):
        run_engine(rounds, signals.iloc[:10], FollowStrategy(), EngineConfig())


def test_object_pools_run_end_to_end() -> None:
    rounds, signals = synthetic_market(500, seed=7, pool_model=PoolModel(46.0, 0.3, 13, 13, 12, 13))  # ~100 BNB pools
    assert rounds["bull_wei"].dtype == object
    res = run_engine(rounds, signals, EdgeStrategy(), EngineConfig())
    ints = rounds.assign(
        bull_wei=rounds["bull_wei"].map(lambda v: v // 100).astype(np.int64),
        bear_wei=rounds["bear_wei"].map(lambda v: v // 100).astype(np.int64),
    )
    assert len(res.bets) > 0 and math.isfinite(compute_metrics(res)["roi"])
    assert run_engine(ints, signals, EdgeStrategy(), EngineConfig()).bets["payout_wei"].dtype == np.int64
