"""Signals: logs, offline forecasters (labelled, causal) and look-ahead-free alignment to rounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.backtest.feeds import load_csv
from bot.backtest.inferences import (
    InferenceError,
    MomentumForecaster,
    align_inferences,
    candle_inferences,
    get_forecaster,
    load_inferences,
    offline_inferences,
    round_price_inferences,
)
from bot.backtest.rounds import build_rounds, load_rounds_file, outcome_labels

DATA = Path(__file__).resolve().parents[2] / "bot" / "data"


@pytest.fixture(scope="module")
def rounds() -> pd.DataFrame:
    return build_rounds(load_csv(DATA / "BTCUSDT_5m_2025-05_06.csv.gz").head(1500), seed=2)


def test_future_outcomes_published_after_the_decision_are_not_used(rounds: pd.DataFrame) -> None:
    lead = 4.0
    decision_ms = rounds["lock_ts"].to_numpy() * 1000 - 4000
    truth = (outcome_labels(rounds) == 0).astype(float)  # a perfect oracle: p_up = 1 exactly when the round goes up
    honest = pd.DataFrame({"timestamp_ms": decision_ms - 60_000, "p_up": 0.5, "predicted_return": 0.0, "source": "log"})
    leaks = [
        pd.DataFrame({"timestamp_ms": decision_ms + 1, "p_up": truth, "predicted_return": np.nan, "source": "leak"}),
        pd.DataFrame({"timestamp_ms": decision_ms, "p_up": truth, "predicted_return": np.nan, "source": "leak"}),  # exact
    ]
    for leak in leaks:
        aligned = align_inferences(rounds, pd.concat([honest, leak], ignore_index=True), lead)
        assert (aligned["p_up"] == 0.5).all()  # only the honest inference, published before the decision
        assert (aligned["signal_age"] == 60.0).all()
    # one millisecond earlier the oracle would be used: the boundary is strict, not a tolerance
    early = leaks[0].assign(timestamp_ms=decision_ms - 1)
    aligned = align_inferences(rounds, pd.concat([honest, early], ignore_index=True), lead)
    assert (aligned["p_up"].to_numpy() == truth).all()


def test_alignment_ages_and_staleness(rounds: pd.DataFrame) -> None:
    lock_ms = int(rounds["lock_ts"].iat[10]) * 1000
    log = pd.DataFrame({"timestamp_ms": [lock_ms - 700_000], "p_up": [0.7], "predicted_return": [0.001], "source": "x"})
    aligned = align_inferences(rounds, log, 4.0)
    assert np.isnan(aligned["p_up"].iat[7])  # decided at lock_10 - 904 s: nothing published yet
    assert aligned["p_up"].iat[8] == 0.7 and aligned["signal_age"].iat[8] == pytest.approx(96.0)
    assert aligned["p_up"].iat[10] == 0.7 and aligned["signal_age"].iat[10] == pytest.approx(696.0)
    stale = align_inferences(rounds, log, 4.0, max_age_seconds=600)
    assert np.isnan(stale["p_up"].iat[10])
    nan_log = log.assign(p_up=np.nan)
    assert align_inferences(rounds, nan_log, 4.0)["p_up"].isna().all()  # a NaN is not a publication


def test_offline_forecasts_are_labelled_and_causal() -> None:
    candles = load_csv(DATA / "BTCUSDT_5m_2025-05_06.csv.gz").head(800)
    inf = candle_inferences(candles, get_forecaster("momentum"), 300)
    assert set(inf["source"]) == {"offline:momentum"}
    # stamped when the candle closed
    assert (inf["timestamp_ms"].to_numpy() == candles["open_time_ms"].to_numpy() + 300_000).all()
    # changing the future does not change the past
    altered = candles.copy()
    altered.loc[500:, "close"] *= 1.05
    inf2 = candle_inferences(altered, get_forecaster("momentum"), 300)
    pd.testing.assert_series_equal(inf["p_up"].iloc[:500], inf2["p_up"].iloc[:500])
    assert not np.allclose(inf["p_up"].iloc[500:510], inf2["p_up"].iloc[500:510])
    assert set(candle_inferences(candles, get_forecaster("random", seed=1), 300)["source"]) == {"offline:random"}


def test_forecasters_do_not_bridge_gaps() -> None:
    times = np.array([0, 300, 600, 900, 5000, 5300, 5600, 5900], dtype=np.int64)
    prices = np.array([100, 101, 102, 103, 90, 91, 92, 93], dtype=float)
    pred, _ = MomentumForecaster(lookback=2, vol_window=2).predict(times, prices, 300)
    assert np.isfinite(pred[3]) and np.isnan(pred[4]) and np.isnan(pred[5]) and np.isfinite(pred[6])


def test_round_price_inferences_for_files_without_candles() -> None:
    real = load_rounds_file(DATA / "pcs-v2-bnb-2021-12-slice.ndjson")
    inf = round_price_inferences(real, get_forecaster("momentum"))
    assert (inf["timestamp_ms"].to_numpy() == real["lock_ts"].to_numpy() * 1000).all()  # known at lock
    aligned = align_inferences(real, inf, 4.0)
    # round n is decided with the forecast made at lock n-1 (its own lock price is not known yet)
    assert (aligned["signal_age"].dropna() == 296.0).mean() > 0.95


def test_load_inferences_formats(tmp_path: Path) -> None:
    csv = tmp_path / "log.csv"
    csv.write_text("timestamp,value\n2025-05-01T00:00:00Z,0.0015\n2025-05-01T00:05:00Z,-0.0015\n")
    inf = load_inferences(csv, volatility=0.0015)
    assert inf["timestamp_ms"].tolist() == [1746057600000, 1746057900000]
    assert inf["p_up"].tolist() == pytest.approx([0.8413447, 0.1586553])  # Phi(+-1)
    assert set(inf["source"]) == {"log:log.csv"}
    nd = tmp_path / "log.ndjson"
    nd.write_text('{"ts": 1746057600, "p_up": 0.6, "source": "allora:topic-14"}\n')
    inf = load_inferences(nd)
    assert inf["timestamp_ms"].tolist() == [1746057600000] and inf["source"].tolist() == ["allora:topic-14"]
    with pytest.raises(InferenceError, match="time column"):
        load_inferences(pd.DataFrame({"p_up": [0.5]}))
    with pytest.raises(InferenceError, match="p_up must lie"):
        load_inferences(pd.DataFrame({"timestamp": [1], "p_up": [1.5]}))
    with pytest.raises(InferenceError, match="unknown forecaster"):
        get_forecaster("crystal-ball")
    with pytest.raises(InferenceError, match="increasing"):
        offline_inferences(np.array([2, 1]), np.array([1.0, 1.0]), get_forecaster("momentum"), 300)
