import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from bot.config import MarketConfig, TopicConfig
from bot.store.db import session_scope
from bot.truth.accuracy import HitStats, load_rounds, score_accuracy
from bot.truth.topics import TopicSpec
from tests.truth.truth_helpers import T0, add_rows, outcome

BAR = 300
TOPIC = TopicSpec("btc-5m", 14, "log-return", 300, "BTC")
PRICE_TOPIC = TopicSpec("btc-5m-price", 42, "price", 300, "BTC")


def series(ups: list[bool], start: float = 60000.0) -> pd.Series:
    """Price at T0 + 300 k; window k (bar k -> bar k+1) goes up iff ups[k]."""
    prices = [start]
    for up in ups:
        prices.append(prices[-1] * (1.001 if up else 0.999))
    return pd.Series(prices, index=[T0 + BAR * k for k in range(len(prices))])


def wilson(hits: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_known_hit_rate_per_side_p_value_and_wilson_interval():
    rng = np.random.default_rng(7)
    ups = [bool(u) for u in rng.integers(0, 2, 200)]
    correct = [k < 120 for k in range(200)]  # 120 hits out of 200
    predicted_up = [u if c else not u for u, c in zip(ups, correct, strict=True)]
    inferences = pd.DataFrame({
        "topic": "btc-5m",
        "timestamp": [T0 + BAR * k - 10 for k in range(200)],  # 10 s before window k starts
        "value": [0.001 if p else -0.001 for p in predicted_up],
    })
    report = score_accuracy(inferences, topics=[TOPIC], prices=series(ups))
    [t] = report.topics
    assert (t.source, t.n_inferences, t.n_unmatched, t.n_abstain, t.n_flat) == ("prices", 200, 0, 0, 0)
    assert (t.overall.n, t.overall.hits, t.overall.hit_rate) == (200, 120, 0.6)
    assert t.overall.p_value == pytest.approx(binomtest(120, 200, 0.5).pvalue)
    lo, hi = wilson(120, 200)
    assert (t.overall.ci_low, t.overall.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    up_calls = [k for k in range(200) if predicted_up[k]]
    assert t.up.n == len(up_calls) and t.up.hits == sum(ups[k] for k in up_calls)
    assert t.down.n == 200 - len(up_calls) and t.down.hits == sum(not ups[k] for k in range(200) if not predicted_up[k])
    assert t.base_rate_up == pytest.approx(sum(ups) / 200)
    realised = np.array([math.log(1.001) if u else math.log(0.999) for u in ups])
    predicted = np.array([0.001 if p else -0.001 for p in predicted_up])
    assert t.n_loss == 200
    assert t.mse == pytest.approx(np.mean((predicted - realised) ** 2))
    assert t.mae == pytest.approx(np.mean(np.abs(predicted - realised)))
    json.dumps(report.to_dict())  # --json
    assert "btc-5m" in report.to_text()
    one_sided = score_accuracy(inferences, topics=[TOPIC], prices=series(ups), alternative="greater")
    assert one_sided.topics[0].overall.p_value == pytest.approx(binomtest(120, 200, 0.5, alternative="greater").pvalue)


def test_no_look_ahead_an_inference_is_scored_on_the_next_window():
    ups = [k % 2 == 0 for k in range(50)]  # alternating: window k+1 is the opposite of window k
    # each inference is made 1 s INTO window k and "predicts" window k's direction (information it could peek at):
    # it must be scored on window k+1 (the first starting at or after it), so it is always wrong.
    inferences = pd.DataFrame({
        "topic": "14",
        "timestamp": [T0 + BAR * k + 1 for k in range(50)],
        "direction": ["up" if ups[k] else "down" for k in range(50)],
    })
    [t] = score_accuracy(inferences, topics=[TOPIC], prices=series(ups)).topics
    assert (t.overall.n, t.overall.hits) == (49, 0)  # the last one has no complete next window
    assert t.n_unmatched == 1
    # fractional timestamps are rounded UP: an inference 0.5 s after a bar start cannot use that bar
    late = pd.DataFrame({"topic": "btc-5m", "timestamp": [T0 + 0.5], "direction": ["down"]})
    [t] = score_accuracy(late, topics=[TOPIC], prices=series(ups)).topics
    assert (t.overall.n, t.overall.hits) == (1, 1)  # window 1 (down), not window 0 (up)


def test_rounds_from_sqlite_with_datetimes_p_up_and_dedupe(db):
    rows, expected_up = [], []
    for i in range(20):
        lock = T0 + 300 * i
        up = i % 3 != 0
        close = 60000_00000000 + (1000_0000 if up else -1000_0000)
        rows.append(outcome("pcs-btc", 100 + i, lock, lock + 300, 60000_00000000, close))
        expected_up.append(up)
    rows.append(outcome("pcs-btc", 200, T0 + 300 * 20, T0 + 300 * 21, 1, 0, status="refundable"))
    rows.append(outcome("pcs-btc", 201, T0 + 300 * 21, T0 + 300 * 22, 5, 6, final=False, status="locked"))
    rows.append(outcome("pcs-eth", 7, T0, T0 + 300, 3000_00000000, 2000_00000000))  # another topic's market
    add_rows(db, rows)
    with session_scope(db) as s:
        rounds = load_rounds(s)
    assert len(rounds) == 22  # final rows only; refundable kept here, skipped by scoring

    times = [T0 + 300 * i - 4 for i in range(22)]
    inferences = pd.DataFrame({
        "topic": "btc-5m",
        "timestamp": pd.to_datetime(times, unit="s", utc=True),
        "p_up": [0.7] * 22,  # always up: hit rate = share of up rounds
    })
    early = pd.DataFrame({"topic": "btc-5m", "timestamp": pd.to_datetime([T0 - 100], unit="s", utc=True),
                          "p_up": [0.2]})  # superseded by the later inference before the same lock
    topics = [TopicConfig(name="btc-5m", topic_id=14, horizon_seconds=300)]
    markets = [MarketConfig(name="pcs-btc", chain="bsc", dialect="v2", address="0x" + "1" * 40, topic="btc-5m"),
               MarketConfig(name="pcs-eth", chain="bsc", dialect="v2", address="0x" + "2" * 40, topic=None)]
    round_topics = {m.name: m.topic for m in markets if m.topic}
    report = score_accuracy(pd.concat([early, inferences]), topics=topics, rounds=rounds, round_topics=round_topics)
    [t] = report.topics
    assert t.source == "rounds"
    assert (t.overall.n, t.overall.hits) == (20, sum(expected_up))
    assert (t.up.n, t.down.n) == (20, 0) and t.down.hit_rate is None
    assert t.n_unmatched == 2  # before the refundable round (next lock too far) and before the unfinished one
    assert t.brier == pytest.approx(np.mean([(0.7 - u) ** 2 for u in expected_up]))
    assert t.mse is None and t.n_loss == 0  # p_up gives no log-return prediction
    no_dedupe = score_accuracy(pd.concat([early, inferences]), topics=topics, rounds=rounds,
                               round_topics=round_topics, dedupe=False).topics[0]
    assert no_dedupe.overall.n == 21


def test_price_topic_uses_a_reference_known_at_inference_time():
    ups = [True, False, True, True]
    prices = series(ups)
    p = prices.to_numpy()
    inferences = pd.DataFrame({
        "topic": "btc-5m-price",
        "timestamp": [T0 + BAR * k + 30 for k in range(3)],  # scored on window k+1; reference = price at bar k
        "value": [p[k] * 0.99 for k in range(3)],  # predicts a fall below the last known price
    })
    [t] = score_accuracy(inferences, topics=[PRICE_TOPIC], prices=prices).topics
    assert t.down.n == 3 and t.down.hits == sum(not ups[k + 1] for k in range(3))
    assert t.mse == pytest.approx(np.mean([(math.log(0.99) - math.log(p[k + 2] / p[k + 1])) ** 2 for k in range(3)]))
    with_ref = inferences.assign(reference_price=[p[k] * 0.5 for k in range(3)])  # now every call is "up"
    assert score_accuracy(with_ref, topics=[PRICE_TOPIC], prices=prices).topics[0].up.n == 3


def test_flat_abstain_non_overlapping_and_horizon_column():
    prices = pd.Series([100.0, 100.0, 101.0, 102.0, 101.0, 103.0, 104.0],
                       index=[T0 + BAR * k for k in range(7)])
    inferences = pd.DataFrame({"topic": "btc-5m", "timestamp": [T0 + BAR * k for k in range(6)],
                               "direction": [1, 1, 0, 1, 1, 1]})
    [t] = score_accuracy(inferences, topics=[TOPIC], prices=prices).topics
    assert (t.n_flat, t.n_abstain, t.overall.n, t.overall.hits) == (1, 1, 4, 3)
    long = inferences.assign(horizon_seconds=900)
    [t] = score_accuracy(long, topics=[TOPIC], prices=prices, non_overlapping=True).topics
    assert t.horizon_seconds == 900 and t.overall.n == 2  # windows [0, 900) and [900, 1800) only


def test_hit_stats_and_input_errors():
    assert HitStats.of(0, 0).hit_rate is None
    assert HitStats.of(58, 100).p_value == pytest.approx(binomtest(58, 100).pvalue)
    with pytest.raises(ValueError, match="unknown topics"):
        score_accuracy(pd.DataFrame({"topic": ["x"], "timestamp": [T0], "value": [0.1]}), topics=[TOPIC])
    with pytest.raises(ValueError, match="prediction column"):
        score_accuracy(pd.DataFrame({"topic": ["btc-5m"], "timestamp": [T0]}), topics=[TOPIC])
    [t] = score_accuracy(pd.DataFrame({"topic": ["btc-5m"], "timestamp": [T0], "value": [0.1]}), topics=[TOPIC]).topics
    assert (t.source, t.n_unmatched, t.overall.n) == ("none", 1, 0)


def test_inference_log_rows_score_from_the_later_of_produced_and_fetched(db):
    from bot.store.inferences import record_inference
    from bot.truth.accuracy import load_inferences

    ups = [True, False, True, False]
    prices = series(ups)
    with session_scope(db) as s:
        # produced 20 s before window 0, fetched 50 s later (inside window 0): it can only be scored on window 1
        record_inference(s, source="api", topic_id=14, topic_name="btc-5m", fetched_at_ms=(T0 + 30) * 1000 + 1,
                         raw=b"{}", accepted=True, timestamp=T0 - 20, value="-0.0004")
        record_inference(s, source="api", topic_id=14, topic_name="btc-5m", fetched_at_ms=(T0 + 350) * 1000,
                         raw=b"{}", accepted=False, reason="stale", timestamp=T0 + 340, value="0.1")
    with session_scope(db) as s:
        frame = load_inferences(s, [14])
    assert frame[["topic", "timestamp", "value"]].to_dict("records") == [
        {"topic": "14", "timestamp": T0 + 31, "value": -0.0004}]
    [t] = score_accuracy(frame, topics=[TOPIC], prices=prices).topics
    assert (t.down.n, t.down.hits, t.n_loss) == (1, 1, 1)  # window 1 went down
