"""Historical rounds: the shipped real rounds, the RPC export format, rounds built from candles, the pool model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.backtest.feeds import load_csv
from bot.backtest.pools import PoolModelError
from bot.backtest.rounds import (
    DEFAULT_POOL_MODEL,
    ROUND_COLUMNS,
    PoolModel,
    RoundsError,
    build_rounds,
    fit_pool_model,
    load_rounds_export,
    load_rounds_file,
    outcome_labels,
    write_rounds_export,
)

DATA = Path(__file__).resolve().parents[2] / "bot" / "data"


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return load_rounds_file(DATA / "pcs-v2-bnb-2021-12-slice.ndjson")


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return load_csv(DATA / "BTCUSDT_5m_2025-05_06.csv.gz").head(3000)


def test_shipped_real_rounds(real: pd.DataFrame) -> None:
    assert len(real) == 1000
    assert list(real.columns) == list(ROUND_COLUMNS)
    assert real["epoch"].is_monotonic_increasing and real["epoch"].is_unique
    assert real.attrs["timestamps"] == "synthetic" and real.attrs["result_mismatches"] == 0
    assert real["bull_wei"].dtype == object  # real BNB pools exceed int64: exact Python ints
    outcome = outcome_labels(real)
    assert (outcome == 2).sum() == 1  # the slice's one draw
    assert ((outcome == 0).sum(), (outcome == 1).sum()) == (519, 480)


def test_pool_model_fit_reproduces_the_default(real: pd.DataFrame) -> None:
    fitted = fit_pool_model(real)
    for name, value in DEFAULT_POOL_MODEL.to_dict().items():
        assert getattr(fitted, name) == pytest.approx(value, rel=1e-9), name
    assert 20e18 < fitted.median_total_wei < 30e18
    # the crowd leans towards the winner in real final pools
    up_mean = fitted.up_alpha / (fitted.up_alpha + fitted.up_beta)
    down_mean = fitted.down_alpha / (fitted.down_alpha + fitted.down_beta)
    assert up_mean > down_mean


def test_pool_model_samples_match_the_fit() -> None:
    rng = np.random.default_rng(0)
    model = DEFAULT_POOL_MODEL.scaled(0.04)
    outcome = rng.integers(0, 2, 50_000).astype(np.int8)
    bull, bear = model.sample(50_000, rng, outcome)
    assert bull.dtype == np.int64 and bear.dtype == np.int64
    total = (bull + bear).astype(float)
    assert np.log(total).mean() == pytest.approx(model.log_total_mean, abs=0.01)
    refit = fit_pool_model(
        pd.DataFrame({"bull_wei": bull, "bear_wei": bear, "lock_price": 0, "close_price": 1 - 2 * outcome, "oracle_called": True})
    )
    assert refit.up_alpha / (refit.up_alpha + refit.up_beta) == pytest.approx(
        model.up_alpha / (model.up_alpha + model.up_beta), abs=0.005
    )
    big_bull, _ = DEFAULT_POOL_MODEL.scaled(10).sample(10, rng)
    assert big_bull.dtype == object  # totals beyond int64 stay exact Python ints
    indep = DEFAULT_POOL_MODEL.without_crowd_skill()
    assert (indep.up_alpha, indep.up_beta) == (indep.down_alpha, indep.down_beta)


def test_built_rounds_follow_the_contract_lifecycle(candles: pd.DataFrame) -> None:
    rounds = build_rounds(candles, interval_seconds=300, delay_seconds=0, seed=1)
    assert list(rounds.columns) == [*ROUND_COLUMNS, "start_price"]
    # lockPrice(n+1) == closePrice(n): one executeRound locks n+1 and closes n with the same oracle price
    assert (rounds["lock_price"].to_numpy()[1:] == rounds["close_price"].to_numpy()[:-1]).all()
    assert (np.diff(rounds["lock_ts"].to_numpy()) == 300).all()
    assert (rounds["close_ts"] - rounds["lock_ts"] == 300).all()
    # labelled with the feed they settle on: lock price = close of the candle that closed at lock time
    known = candles["open_time_ms"].to_numpy() // 1000 + 300
    closes = candles["close"].to_numpy()
    i = np.searchsorted(known, rounds["lock_ts"].to_numpy()[5])
    assert rounds["lock_price"].iat[5] == round(closes[i] * 1e8)
    assert rounds.attrs["dropped_gap_rounds"] == 0 and rounds["oracle_called"].all()


def test_execution_delay_stretches_the_schedule() -> None:
    minute = pd.DataFrame(
        {
            "open_time_ms": 1_700_000_000_000 + 60_000 * np.arange(600),
            "open": 1.0,
            "high": 1.0,
            "low": 1.0,
            "close": 100 + np.arange(600) * 0.01,
            "volume": 1.0,
        }
    )
    rounds = build_rounds(minute, timeframe="1m", interval_seconds=300, delay_seconds=6)
    assert (np.diff(rounds["lock_ts"].to_numpy()) == 306).all()  # rounds ~305-307 s apart, as on mainnet
    assert (rounds["close_ts"] - rounds["lock_ts"] == 306).all()  # close is rewritten to the next lock time
    assert (rounds["lock_price"].to_numpy()[1:] == rounds["close_price"].to_numpy()[:-1]).all()
    # the oracle read happens 6 s after lock: the price of the last 1m candle closed by then
    t = int(rounds["lock_ts"].iat[3]) + 6
    expected = minute["close"].to_numpy()[(t - 1_700_000_000) // 60 - 1]
    assert rounds["lock_price"].iat[3] == round(expected * 1e8)


def test_rounds_across_a_gap_are_dropped(candles: pd.DataFrame) -> None:
    holed = candles.drop(index=range(1000, 1010)).reset_index(drop=True)
    full = build_rounds(candles)
    cut = build_rounds(holed)
    assert cut.attrs["dropped_gap_rounds"] >= 10
    assert len(cut) == len(full) - cut.attrs["dropped_gap_rounds"]
    lock_times = set(cut["lock_ts"])
    gap_start = int(candles["open_time_ms"].iat[1000]) // 1000
    assert not any(gap_start + 300 <= t <= gap_start + 10 * 300 for t in lock_times)


def test_missed_executions_become_refunds(candles: pd.DataFrame) -> None:
    rounds = build_rounds(candles, missed_execution_rate=0.2, seed=3)
    share = 1 - rounds["oracle_called"].mean()
    assert 0.15 < share < 0.25
    assert (outcome_labels(rounds)[~rounds["oracle_called"].to_numpy()] == 3).all()


@pytest.mark.parametrize("name", ["rounds.csv", "rounds.csv.gz", "rounds.ndjson"])
def test_export_format_roundtrip(tmp_path: Path, name: str) -> None:
    frame = pd.DataFrame(
        {
            "epoch": [10, 11, 12],
            "start_ts": [1000, 1300, 1600],
            "lock_ts": [1300, 1600, 1900],
            "close_ts": [1600, 1900, 2200],
            "lock_price": [5, 6, 6],
            "close_price": [6, 6, 7],
            "bull_wei": np.array([2**70, 1, 0], dtype=object),
            "bear_wei": np.array([3, 2**64 + 1, 0], dtype=object),
            "oracle_called": [True, True, False],
            "ai_price": [7, 5, 7],
        }
    )
    path = write_rounds_export(frame, tmp_path / name, price_decimals=18)
    loaded = load_rounds_file(path)
    assert loaded.attrs["price_decimals"] == 18 and loaded.attrs["timestamps"] == "real"
    assert loaded["bull_wei"].tolist() == [2**70, 1, 0] and loaded["bear_wei"].tolist() == [3, 2**64 + 1, 0]
    assert loaded["oracle_called"].tolist() == [True, True, False]
    assert loaded["ai_price"].tolist() == [7, 5, 7]
    assert outcome_labels(loaded).tolist() == [0, 2, 3]


def test_export_format_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,lock_ts\n1,2\n")
    with pytest.raises(RoundsError, match="missing column"):
        load_rounds_export(bad)
    with pytest.raises(RoundsError, match="not found"):
        load_rounds_file(tmp_path / "nope.ndjson")
    dupes = tmp_path / "dupes.csv"
    dupes.write_text(
        "epoch,start_ts,lock_ts,close_ts,lock_price,close_price,bull_wei,bear_wei,oracle_called\n"
        "1,0,300,600,1,2,1,1,true\n1,0,300,600,1,2,1,1,true\n"
    )
    with pytest.raises(RoundsError, match="duplicate"):
        load_rounds_export(dupes)


def test_pool_model_fit_needs_data() -> None:
    with pytest.raises(PoolModelError):
        fit_pool_model(
            pd.DataFrame({"bull_wei": [1], "bear_wei": [1], "lock_price": [1], "close_price": [2], "oracle_called": [True]})
        )
    assert PoolModel(1.0, 0.1, 2, 2, 2, 2).scaled(np.e).log_total_mean == pytest.approx(2.0)
