"""Metrics on a small hand-checkable run, and the streaming statistics against a direct computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from bot.backtest.engine import EngineConfig, run_engine
from bot.backtest.exact import as_wei_array
from bot.backtest.metrics import _runs, compute_metrics, drawdown_durations, longest_run
from bot.backtest.synthetic import synthetic_market
from strategies import AlwaysBullStrategy, FollowStrategy

ETH = 10**18
STAKE = 10**17


def frame(moves: list[int]) -> pd.DataFrame:
    """Rounds with equal 1-ether pools; move +1 up, -1 down, 0 draw; lock every 300 s."""
    n = len(moves)
    lock_ts = 1_700_000_000 + 300 * np.arange(1, n + 1)
    return pd.DataFrame(
        {
            "epoch": np.arange(1, n + 1),
            "start_ts": lock_ts - 300,
            "lock_ts": lock_ts,
            "close_ts": lock_ts + 300,
            "lock_price": 100,
            "close_price": [100 + m for m in moves],
            "bull_wei": as_wei_array([ETH] * n),
            "bear_wei": as_wei_array([ETH] * n),
            "oracle_called": True,
        }
    )


def test_hand_checkable_metrics() -> None:
    moves = [1, -1, -1, 1, 0, -1, 1, 1]
    res = run_engine(frame(moves), None, AlwaysBullStrategy(stake_wei=STAKE), EngineConfig(gas_per_bet_wei=0))
    m = compute_metrics(res)
    win_pay = STAKE * (21 * 10**17 - 63 * 10**15) // (11 * 10**17)  # T' = 2.1, fee 3 %, B = 1.1 ether
    pnl = [win_pay - STAKE if x > 0 else -STAKE for x in moves]
    assert (m["bets"], m["won"], m["lost"], m["house"], m["refunds"]) == (8, 4, 3, 1, 0)
    assert m["hit_rate"] == 0.5 and m["hit_rate_pvalue"] == pytest.approx(binomtest(4, 8, 0.5).pvalue)
    assert (m["bull_bets"], m["bear_bets"], m["bear_hit_rate"], m["bear_pvalue"]) == (8, 0, None, None)
    assert m["pnl_wei"] == sum(pnl) and m["staked_wei"] == 8 * STAKE
    assert m["roi"] == pytest.approx(sum(pnl) / (8 * STAKE))
    gains = sum(p for p in pnl if p > 0)
    losses = -sum(p for p in pnl if p < 0)
    assert m["profit_factor"] == pytest.approx(gains / losses)
    assert m["expectancy_wei"] == pytest.approx(sum(pnl) / 8)
    # equity: +w, -s, -s (low), +w, -s, -s, +w, +w; peak after bet 1
    equity = ETH + np.cumsum(pnl)
    peak = np.maximum.accumulate(np.concatenate(([ETH], equity)))[1:]
    assert m["max_drawdown_wei"] == pytest.approx(float((peak - equity).max()), rel=1e-12)  # a float statistic
    assert m["max_drawdown_pct"] == pytest.approx(float(((peak - equity) / peak).max()))
    underwater = equity < peak
    assert m["longest_losing_streak"] == 2  # lost, lost / draw, lost
    r = np.array(pnl, dtype=float) / STAKE
    assert m["sharpe_per_bet"] == pytest.approx(r.mean() / r.std(ddof=1))
    assert m["sortino_per_bet"] == pytest.approx(r.mean() / math.sqrt(np.mean(np.minimum(r, 0) ** 2)))
    assert m["fees_wei"] == pytest.approx(4 * win_pay * 300 / 9700, abs=4)
    # the peak is after the first bet (+0.085); the equity never gets back there: under water from round 0 to round 7
    assert underwater.tolist() == [False] + [True] * 7
    assert (m["max_drawdown_duration_rounds"], m["max_drawdown_duration_seconds"]) == (7, 2100)


def test_losing_streak_counts_draws_as_losses() -> None:
    res = run_engine(frame([1, -1, 0, -1, 1]), None, AlwaysBullStrategy(stake_wei=STAKE), EngineConfig())
    assert compute_metrics(res)["longest_losing_streak"] == 3


def test_runs_and_durations() -> None:
    flags = np.array([0, 1, 1, 0, 1, 1, 1], dtype=bool)
    starts, ends = _runs(flags)
    assert starts.tolist() == [1, 4] and ends.tolist() == [3, 7] and longest_run(flags) == 3
    round_pos = np.array([0, 2, 5, 9, 10, 11, 12])
    lock = 1000 + 300 * np.arange(20)
    # stretch 1: peak at bet 0 (round 0), recovered at bet 3 (round 9): 9 rounds; stretch 2 never recovers: 9 -> 19
    assert drawdown_durations(flags, round_pos, lock) == (10, 3000)


def test_streaming_stats_equal_a_direct_computation() -> None:
    rounds, signals = synthetic_market(40_000, seed=8)
    res = run_engine(rounds, signals, FollowStrategy(threshold=0.02), EngineConfig(gas_per_bet_wei=10**13))
    streamed = compute_metrics(res)
    res.stats = None  # force the from-bets path
    direct = compute_metrics(res)
    for key, value in streamed.items():
        if isinstance(value, float) or key in ("fees_wei", "max_drawdown_wei"):  # float statistics
            assert direct[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert direct[key] == value, key
