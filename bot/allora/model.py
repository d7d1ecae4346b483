"""Value types of the Allora adapter: what a source fetched, what it means, and the trading signal derived from it.

Pure data. Prices and inference values are ``Decimal``; floats appear only for statistics (returns, probabilities).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bot.allora.reasons import RejectReason
from bot.domain import Position

SourceName = Literal["api", "rpc"]
PUpSource = Literal["intervals", "volatility", "labels"]


@dataclass(frozen=True, slots=True)
class ConsumerData:
    """The ``NetworkInferenceData`` struct the AlloraConsumer contract verifies, exactly as served (raw integers)."""

    network_inference: int
    timestamp: int
    topic_id: int
    extra_data: bytes = b""
    percentiles: tuple[int, ...] = ()  # scaled by 1e18 (15.87 % -> 15870000000000000000)
    interval_values: tuple[int, ...] = ()  # scaled by 10**token_decimals


@dataclass(frozen=True, slots=True)
class WorkerValue:
    """One worker's value in a chain bundle (inferer value or forecast-implied inference)."""

    worker: str
    value: Decimal
    label: str = "y"


@dataclass(frozen=True, slots=True)
class Inference:
    """One network inference for one topic, normalised across sources.

    ``value`` is the network inference (combined value), in the topic's unit: a price, a log-return, or for a
    classification topic the probability of the first label (``labels`` then holds every label's value).
    ``percentiles`` are in percent (2.28, 15.87, 50, 84.13, 97.72) and ``interval_values`` are the matching quantiles.
    ``raw`` is the payload exactly as received.
    """

    topic_name: str
    topic_id: int
    value: Decimal
    decimals: int
    timestamp: int
    source: SourceName
    raw: bytes = field(repr=False)
    percentiles: tuple[Decimal, ...] = ()
    interval_values: tuple[Decimal, ...] = ()
    labels: tuple[tuple[str, Decimal], ...] = ()
    inferers: tuple[WorkerValue, ...] = ()
    forecasters: tuple[WorkerValue, ...] = ()
    naive_value: Decimal | None = None
    block_height: int | None = None
    consumer_data: ConsumerData | None = None  # API only: the signed struct
    signature: bytes = b""
    signer: str | None = None  # set once the signature has been recovered

    def label_value(self, name: str) -> Decimal | None:
        for label, value in self.labels:
            if label == name:
                return value
        return None

    @property
    def has_intervals(self) -> bool:
        return len(self.percentiles) >= 2 and len(self.percentiles) == len(self.interval_values)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A payload that could not become an ``Inference``."""

    reason: RejectReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of verification. ``reason`` is ``None`` when accepted."""

    reason: RejectReason | None = None
    detail: str = ""
    signer: str | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch produced: the raw payload, and either an inference or the reason there is none."""

    source: SourceName
    topic_name: str
    topic_id: int
    fetched_at: float
    raw: bytes = field(default=b"", repr=False)
    inference: Inference | None = None
    reason: RejectReason | None = None
    detail: str = ""
    http_status: int | None = None
    block_height: int | None = None

    @property
    def ok(self) -> bool:
        return self.inference is not None and self.reason is None


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """Topic metadata as the chain describes it."""

    topic_id: int
    metadata: str
    loss_method: str
    epoch_length: int
    ground_truth_lag: int
    worker_submission_window: int
    topic_type: str = "regression"  # regression | classification | unspecified
    output_arity: str = "single"  # single | multi | unspecified
    labels: tuple[str, ...] = ()
    allow_negative: bool = False


@dataclass(frozen=True, slots=True)
class Signal:
    """A direction call for one topic relative to a reference price, ready for a strategy.

    ``predicted_return`` is the predicted log-return over ``horizon_seconds``; ``sigma`` the standard deviation used
    for ``p_up`` (the probability that the price ends above the reference); ``age_seconds`` is measured at ``now``.
    """

    topic_name: str
    topic_id: int
    kind: str
    horizon_seconds: int
    direction: Position
    predicted_return: float
    p_up: float
    sigma: float
    p_up_source: PUpSource
    age_seconds: float
    reference_price: Decimal
    predicted_price: Decimal | None
    inference: Inference = field(repr=False)

    @property
    def confidence(self) -> float:
        """Probability of the called side (>= 0.5)."""
        return self.p_up if self.direction is Position.BULL else 1.0 - self.p_up
