"""Inference -> ``Signal`` relative to a reference price (pure).

- price topic: predicted log-return = ln(value / reference price);
- log-return topic: the value is the predicted log-return over the topic's horizon;
- classification topic: the value (or the up/down labels) is the probability of "up".

``p_up`` comes from the confidence intervals when served: a normal distribution fitted by least squares to the
(percentile, value) points (for 2.28/15.87/50/84.13/97.72 these are the -2σ..+2σ quantiles). Otherwise a normal
with the predicted return as mean and ``TopicConfig.volatility`` as standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from statistics import NormalDist

from bot.allora.kinds import exp_price, kind_of
from bot.allora.model import Inference, PUpSource, Signal
from bot.config import TopicConfig
from bot.domain import Position

_STANDARD = NormalDist()
P_FLOOR = 1e-12  # p_up is kept in [P_FLOOR, 1 - P_FLOOR] where a quantile is needed


def fit_normal(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares fit of ``value = mu + sigma * z(p)`` to (probability, value) points; ``None`` if degenerate."""
    usable = [(p, x) for p, x in points if 0.0 < p < 1.0 and math.isfinite(x)]
    if len(usable) < 2:
        return None
    zs = [_STANDARD.inv_cdf(p) for p, _ in usable]
    xs = [x for _, x in usable]
    z_mean = sum(zs) / len(zs)
    x_mean = sum(xs) / len(xs)
    sxx = sum((z - z_mean) ** 2 for z in zs)
    if sxx <= 0.0:
        return None
    sigma = sum((z - z_mean) * (x - x_mean) for z, x in zip(zs, xs, strict=True)) / sxx
    mu = x_mean - sigma * z_mean
    if not (math.isfinite(sigma) and math.isfinite(mu)) or sigma <= 0.0:
        return None
    return mu, sigma


def prob_above_zero(mu: float, sigma: float) -> float:
    """P(X > 0) for X ~ N(mu, sigma^2)."""
    if sigma <= 0.0 or not math.isfinite(sigma):
        return 1.0 if mu > 0 else 0.0 if mu < 0 else 0.5
    return 0.5 * math.erfc(-mu / (sigma * math.sqrt(2.0)))


def direction_for(p_up: float, predicted_return: float) -> Position:
    if p_up > 0.5:
        return Position.BULL
    if p_up < 0.5:
        return Position.BEAR
    return Position.BULL if predicted_return >= 0.0 else Position.BEAR


def _interval_points(inference: Inference, topic: TopicConfig, reference: Decimal) -> list[tuple[float, float]]:
    kind = kind_of(topic.kind)
    points: list[tuple[float, float]] = []
    for pct, value in zip(inference.percentiles, inference.interval_values, strict=False):
        log_return = kind.interval_log_return(value, reference)
        if log_return is not None:
            points.append((float(pct) / 100.0, log_return))
    return points


def classification_p_up(inference: Inference, topic: TopicConfig) -> float:
    """Probability of the first label ("up"); normalised against the second label when both are served."""
    first = inference.label_value(topic.labels[0]) if topic.labels else None
    second = inference.label_value(topic.labels[1]) if len(topic.labels) > 1 else None
    up = float(first if first is not None else inference.value)
    if second is not None and up + float(second) > 0:
        up = up / (up + float(second))
    return min(1.0, max(0.0, up))


def to_signal(inference: Inference, topic: TopicConfig, reference_price: Decimal, now: float) -> Signal:
    """The trading signal of ``inference`` at ``now``. ``ValueError`` on inputs verification would have rejected."""
    if not reference_price.is_finite() or reference_price <= 0:
        raise ValueError(f"reference price must be positive, got {reference_price}")
    if not inference.value.is_finite():
        raise ValueError("inference value is not finite")
    sigma = topic.volatility
    source: PUpSource
    predicted_price: Decimal | None
    kind = kind_of(topic.kind)
    scalar = kind.predicted_log_return(inference.value, reference_price)  # ValueError for a price <= 0
    if scalar is None:  # a multi-label topic: P(up) from its labels, mapped through the topic's volatility
        p_up = classification_p_up(inference, topic)
        predicted = sigma * _STANDARD.inv_cdf(min(1.0 - P_FLOOR, max(P_FLOOR, p_up)))
        source = "labels"
        predicted_price = exp_price(reference_price, predicted)
    else:
        predicted = scalar
        predicted_price = kind.predicted_price(inference.value, reference_price, predicted)
        fitted = fit_normal(_interval_points(inference, topic, reference_price)) if inference.has_intervals else None
        if fitted is not None:
            mu, sigma = fitted
            source = "intervals"
        else:
            mu = predicted
            source = "volatility"
        p_up = prob_above_zero(mu, sigma)
    return Signal(
        topic_name=topic.name,
        topic_id=inference.topic_id,
        kind=topic.kind,
        horizon_seconds=topic.horizon_seconds,
        direction=direction_for(p_up, predicted),
        predicted_return=predicted,
        p_up=p_up,
        sigma=sigma,
        p_up_source=source,
        age_seconds=now - inference.timestamp,
        reference_price=reference_price,
        predicted_price=predicted_price,
        inference=inference,
    )
