"""Inference generators for the local Allora service.

``EnsembleGenerator`` emulates a small Allora topic honestly over a real price series: four simple inferers
(zero, momentum, mean reversion, EWMA drift) forecast the log-return over the topic's horizon; two forecasters
predict the inferers' losses (fast and slow EWMA) and each yields a forecast-implied inference; the network
inference combines all six by a softmax of their negative EWMA losses (performance-weighted synthesis, as the chain
does with regrets). Everything at bar ``k`` uses only closes up to ``k`` and errors realised by ``k`` (strictly
causal). Confidence intervals come from the recent realised volatility. Classification topics get up/down labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, Protocol

from cosmpy.crypto.address import Address
from eth_utils import keccak

from devkit.alloraservice.prices import PriceSeries, TimeMap, identity_time

Kind = Literal["price", "log-return", "classification"]
LabelValues = tuple[tuple[str, float], ...]
PERCENTILES = (2.28, 15.87, 50.0, 84.13, 97.72)
_Z = tuple(NormalDist().inv_cdf(p / 100.0) for p in PERCENTILES)
INFERERS = ("zero", "momentum", "mean-reversion", "ewma-drift")
FORECASTERS = ("fast-loss", "slow-loss")


@dataclass(frozen=True, slots=True)
class ServiceTopic:
    """A topic the local service serves."""

    topic_id: int
    name: str
    kind: Kind = "log-return"
    horizon_seconds: int = 300
    epoch_seconds: int = 300
    labels: tuple[str, ...] = ("up", "down")
    loss_method: str = "mse"
    asset: str = "BTC"
    active: bool = True  # what emissions is_topic_active answers (an inactive topic still serves its metadata)


@dataclass(frozen=True, slots=True)
class Generated:
    """One network inference: combined value, per-worker values, naive value and confidence interval."""

    timestamp: int
    combined: LabelValues
    naive: LabelValues
    inferers: tuple[tuple[str, LabelValues], ...]
    forecasters: tuple[tuple[str, LabelValues], ...]
    intervals: tuple[tuple[float, float], ...]  # (percentile in %, value)
    reference_price: float

    @property
    def value(self) -> float:
        return self.combined[0][1]


class NoInference(Exception):
    """No inference exists for this topic at this time (the service answers 404)."""


class InferenceGenerator(Protocol):
    def generate(self, topic: ServiceTopic, at: int) -> Generated:
        """The network inference produced at service time ``at``; ``NoInference`` if there is none."""
        ...


def worker_address(name: str) -> str:
    """A deterministic ``allo1...`` address for an emulated worker."""
    return str(Address(keccak(text=f"allora-local-worker:{name}")[:20], prefix="allo"))


def _softmax_weights(losses: Sequence[float | None], sharpness: float) -> list[float]:
    known = [loss for loss in losses if loss is not None]
    if not known:
        return [1.0 / len(losses)] * len(losses)
    scale = sum(known) / len(known) or 1.0
    fill = max(known)  # a candidate without a track record is treated as the worst one
    scores = [-(sharpness * (fill if loss is None else loss) / scale) for loss in losses]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


class _Track:
    """Every candidate's forecast, the network combination and volatility for one horizon (``h`` bars)."""

    def __init__(self, closes: Sequence[float], h: int, gen: EnsembleGenerator) -> None:
        n = len(closes)
        lc = [math.log(c) for c in closes]
        r1 = [0.0] + [lc[j] - lc[j - 1] for j in range(1, n)]
        k_mom, m_rev, vol_w = gen.momentum_bars, gen.reversion_bars, gen.volatility_bars
        self.inferers: list[list[float]] = [[0.0] * n for _ in INFERERS]
        drift, window_sum = 0.0, 0.0
        for j in range(n):
            drift = gen.drift_alpha * r1[j] + (1.0 - gen.drift_alpha) * drift
            window_sum += lc[j] - (lc[j - m_rev] if j >= m_rev else 0.0)
            self.inferers[1][j] = (lc[j] - lc[j - k_mom]) / k_mom * h if j >= k_mom else 0.0
            deviation = lc[j] - window_sum / min(j + 1, m_rev)
            self.inferers[2][j] = -deviation * min(1.0, 2.0 * h / m_rev)
            self.inferers[3][j] = drift * h
        self.forecasters: list[list[float]] = [[0.0] * n for _ in FORECASTERS]
        self.combined = [0.0] * n
        self.naive = [0.0] * n
        self.sigma = [0.0] * n
        ni, nc = len(INFERERS), len(INFERERS) + len(FORECASTERS)
        fast: list[float | None] = [None] * ni
        slow: list[float | None] = [None] * ni
        network: list[float | None] = [None] * nc
        sq_sum, sum_ = 0.0, 0.0
        for k in range(n):
            j = k - h  # the forecast made at j is realised now
            if j >= 0:
                truth = lc[k] - lc[j]
                preds = [row[j] for row in self.inferers] + [row[j] for row in self.forecasters]
                for c, pred in enumerate(preds):
                    err = (pred - truth) ** 2
                    prior = network[c]
                    network[c] = err if prior is None else gen.loss_alpha * err + (1 - gen.loss_alpha) * prior
                    if c < ni:
                        f, s = fast[c], slow[c]
                        fast[c] = err if f is None else gen.fast_alpha * err + (1 - gen.fast_alpha) * f
                        slow[c] = err if s is None else gen.slow_alpha * err + (1 - gen.slow_alpha) * s
            current = [row[k] for row in self.inferers]
            for fi, losses in enumerate((fast, slow)):
                weights = _softmax_weights(losses, gen.sharpness)
                self.forecasters[fi][k] = sum(w * v for w, v in zip(weights, current, strict=True))
            candidates = current + [row[k] for row in self.forecasters]
            weights = _softmax_weights(network, gen.sharpness)
            self.combined[k] = sum(w * v for w, v in zip(weights, candidates, strict=True))
            self.naive[k] = sum(current) / ni
            sum_ += r1[k]
            sq_sum += r1[k] * r1[k]
            if k >= vol_w:
                old = r1[k - vol_w]
                sum_ -= old
                sq_sum -= old * old
            count = min(k + 1, vol_w)
            variance = max(0.0, sq_sum / count - (sum_ / count) ** 2)
            self.sigma[k] = math.sqrt(variance * h)


class EnsembleGenerator:
    """Performance-weighted synthesis of simple forecasters over a real price series (see the module docstring)."""

    def __init__(
        self,
        series: PriceSeries,
        *,
        time_map: TimeMap = identity_time,
        momentum_bars: int = 12,
        reversion_bars: int = 24,
        volatility_bars: int = 48,
        drift_alpha: float = 0.05,
        loss_alpha: float = 0.1,
        fast_alpha: float = 0.3,
        slow_alpha: float = 0.03,
        sharpness: float = 3.0,
        min_sigma: float = 1e-5,
    ) -> None:
        self.series = series
        self.time_map = time_map
        self.momentum_bars = momentum_bars
        self.reversion_bars = reversion_bars
        self.volatility_bars = volatility_bars
        self.drift_alpha = drift_alpha
        self.loss_alpha = loss_alpha
        self.fast_alpha = fast_alpha
        self.slow_alpha = slow_alpha
        self.sharpness = sharpness
        self.min_sigma = min_sigma
        self._tracks: dict[int, _Track] = {}
        self.worker_names = {name: worker_address(name) for name in INFERERS + FORECASTERS}

    def horizon_bars(self, topic: ServiceTopic) -> int:
        return max(1, round(topic.horizon_seconds / self.series.bar_seconds))

    def warmup_bars(self, topic: ServiceTopic) -> int:
        return max(self.momentum_bars, self.reversion_bars, self.volatility_bars) + self.horizon_bars(topic)

    def _track(self, h: int) -> _Track:
        track = self._tracks.get(h)
        if track is None:
            track = self._tracks[h] = _Track(self.series.closes, h, self)
        return track

    def warm(self, topics: Sequence[ServiceTopic]) -> None:
        """Precompute every horizon the topics need (about half a second each on the shipped two-month series)."""
        for topic in topics:
            self._track(self.horizon_bars(topic))

    def index_for(self, topic: ServiceTopic, at: float) -> int:
        """The last bar known at service time ``at``; ``NoInference`` outside the series."""
        series_time = self.time_map(at)
        if series_time >= self.series.end + self.series.bar_seconds:
            raise NoInference(f"service time {at:.0f} is past the end of the price series")
        index = self.series.index_at(series_time)
        if index is None or index < self.warmup_bars(topic):
            raise NoInference(f"service time {at:.0f} is before the price series has warmed up")
        return index

    def generate(self, topic: ServiceTopic, at: int) -> Generated:
        k = self.index_for(topic, at)
        track = self._track(self.horizon_bars(topic))
        mu, sigma, price = track.combined[k], max(self.min_sigma, track.sigma[k]), self.series.closes[k]

        def shape(log_return: float) -> LabelValues:
            if topic.kind == "classification":
                p_up = 0.5 * math.erfc(-log_return / (sigma * math.sqrt(2.0)))
                return tuple(zip(topic.labels[:2], (p_up, 1.0 - p_up), strict=False))
            if topic.kind == "price":
                return (("y", price * math.exp(log_return)),)
            return (("y", log_return),)

        intervals: tuple[tuple[float, float], ...] = ()
        if topic.kind != "classification":
            intervals = tuple((p, shape(mu + z * sigma)[0][1]) for p, z in zip(PERCENTILES, _Z, strict=True))
        return Generated(
            timestamp=at,
            combined=shape(mu),
            naive=shape(track.naive[k]),
            inferers=tuple((self.worker_names[n], shape(track.inferers[i][k])) for i, n in enumerate(INFERERS)),
            forecasters=tuple(
                (self.worker_names[n], shape(track.forecasters[i][k])) for i, n in enumerate(FORECASTERS)
            ),
            intervals=intervals,
            reference_price=price,
        )
