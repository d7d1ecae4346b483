"""Inference -> Signal: exact cases and hypothesis properties (p_up monotonic, bounded, consistent direction)."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.allora.model import Inference
from bot.allora.normalise import fit_normal, prob_above_zero, to_signal
from bot.domain import Position
from tests.allora.conftest import LOG_RETURN, PRICE, UPDOWN

PCTS = tuple(Decimal(p) for p in ("2.28", "15.87", "50", "84.13", "97.72"))
Z = (-2.0, -1.0, 0.0, 1.0, 2.0)


def inference(value: Decimal, *, intervals: tuple[Decimal, ...] = (), labels: tuple[tuple[str, Decimal], ...] = (),
              timestamp: int = 1000, topic_id: int = 14) -> Inference:
    return Inference(
        topic_name="t", topic_id=topic_id, value=value, decimals=18, timestamp=timestamp, source="rpc", raw=b"",
        percentiles=PCTS if intervals else (), interval_values=intervals, labels=labels,
    )


def test_fit_normal_recovers_sigma_points() -> None:
    mu, sigma = fit_normal([(float(p) / 100, 0.001 + 0.002 * z) for p, z in zip(PCTS, Z, strict=True)]) or (0, 0)
    assert mu == pytest.approx(0.001, abs=1e-6) and sigma == pytest.approx(0.002, rel=2e-3)
    assert fit_normal([(0.5, 1.0)]) is None
    assert fit_normal([(0.1, 1.0), (0.9, 0.5)]) is None  # decreasing quantiles: degenerate


def test_log_return_without_intervals_uses_topic_volatility() -> None:
    signal = to_signal(inference(Decimal("0.0015")), LOG_RETURN, Decimal(60000), now=1010)
    assert signal.direction is Position.BULL and signal.p_up_source == "volatility"
    assert signal.p_up == pytest.approx(0.5 * math.erfc(-1 / math.sqrt(2)))  # mean = one sigma
    assert signal.age_seconds == 10 and signal.predicted_return == pytest.approx(0.0015)


def test_price_topic_is_relative_to_reference_and_uses_intervals() -> None:
    ref = Decimal(60000)
    values = tuple(Decimal(str(60000 * math.exp(-0.001 + 0.002 * z))) for z in Z)
    signal = to_signal(inference(Decimal("59940.03"), intervals=values, topic_id=77), PRICE, ref, now=1000)
    assert signal.p_up_source == "intervals" and signal.direction is Position.BEAR
    assert signal.sigma == pytest.approx(0.002, rel=1e-2)
    assert signal.p_up == pytest.approx(prob_above_zero(-0.001, 0.002), abs=2e-3)
    assert signal.predicted_return == pytest.approx(math.log(59940.03 / 60000))
    with pytest.raises(ValueError):
        to_signal(inference(Decimal(-1), topic_id=77), PRICE, ref, now=1000)
    with pytest.raises(ValueError):
        to_signal(inference(Decimal(1), topic_id=77), PRICE, Decimal(0), now=1000)


def test_classification_uses_labels() -> None:
    labels = (("up", Decimal("0.3")), ("down", Decimal("0.6")))
    signal = to_signal(inference(Decimal("0.3"), labels=labels, topic_id=90), UPDOWN, Decimal(1), now=1000)
    assert signal.p_up == pytest.approx(1 / 3) and signal.direction is Position.BEAR and signal.p_up_source == "labels"
    assert signal.predicted_return < 0


small = st.floats(min_value=-0.05, max_value=0.05, allow_nan=False)
spread = st.floats(min_value=1e-5, max_value=0.05)


@settings(max_examples=200, deadline=None)
@given(small, small, spread)
def test_p_up_monotonic_in_predicted_log_return(a: float, b: float, sigma: float) -> None:
    lo, hi = sorted((a, b))
    topic = LOG_RETURN.model_copy(update={"volatility": sigma})
    p_lo = to_signal(inference(Decimal(repr(lo))), topic, Decimal(100), 1000).p_up
    p_hi = to_signal(inference(Decimal(repr(hi))), topic, Decimal(100), 1000).p_up
    assert 0.0 <= p_lo <= p_hi <= 1.0


@settings(max_examples=200, deadline=None)
@given(small, small, spread)
def test_p_up_monotonic_when_intervals_shift(a: float, b: float, sigma: float) -> None:
    lo, hi = sorted((a, b))

    def p(mu: float) -> float:
        values = tuple(Decimal(repr(mu + sigma * z)) for z in Z)
        return to_signal(inference(Decimal(repr(mu)), intervals=values), LOG_RETURN, Decimal(100), 1000).p_up

    assert p(lo) <= p(hi) + 1e-12


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1, max_value=1e6), st.floats(min_value=-0.1, max_value=0.1),
       st.floats(min_value=-0.1, max_value=0.1))
def test_p_up_decreases_as_reference_price_rises(price: float, d1: float, d2: float) -> None:
    value = Decimal(repr(price))
    refs = sorted(Decimal(repr(price * math.exp(d))) for d in (d1, d2))
    assume(refs[0] > 0)
    signals = [to_signal(inference(value, topic_id=77), PRICE, ref, 1000) for ref in refs]
    assert signals[0].p_up >= signals[1].p_up
    assert signals[0].predicted_return >= signals[1].predicted_return


@settings(max_examples=200, deadline=None)
@given(small, st.lists(st.floats(min_value=-0.2, max_value=0.2), min_size=5, max_size=5), st.integers(0, 10**6))
def test_signal_is_always_a_probability_and_direction_agrees(value: float, raw_intervals: list[float], age: int) -> None:
    intervals = tuple(Decimal(repr(v)) for v in sorted(raw_intervals))
    signal = to_signal(inference(Decimal(repr(value)), intervals=intervals), LOG_RETURN, Decimal(100), 1000 + age)
    assert 0.0 <= signal.p_up <= 1.0 and math.isfinite(signal.predicted_return)
    assert signal.age_seconds == age
    if signal.p_up != 0.5:
        assert (signal.direction is Position.BULL) == (signal.p_up > 0.5)
    assert signal.confidence >= 0.5


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_classification_monotonic(a: float, b: float) -> None:
    lo, hi = sorted((a, b))

    def p(x: float) -> float:
        labels = (("up", Decimal(repr(x))), ("down", Decimal(repr(1 - x))))
        return to_signal(inference(Decimal(repr(x)), labels=labels, topic_id=90), UPDOWN, Decimal(1), 1000).p_up

    assert p(lo) <= p(hi)


def test_signal_keeps_the_inference() -> None:
    inf = inference(Decimal("0.001"))
    assert to_signal(inf, LOG_RETURN, Decimal(5), 1000).inference is inf
    assert replace(inf, value=Decimal("0.002")) != inf
