"""What differs between Allora topic kinds, in one place: one small module per kind (``log_return``, ``price``,
``classification``), looked up by the name the config uses (``allora.topics[].kind``) with :func:`kind_of`.

Everything else (sources, verification, the signal, ground truth, scoring) asks the kind instead of comparing its name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from decimal import Decimal, localcontext
from typing import ClassVar

from bot.allora.reasons import RejectReason


class TopicKind(ABC):
    """One kind of Allora topic: how its value reads as a prediction and as ground truth."""

    name: ClassVar[str]
    multi_label: ClassVar[bool] = False  # values per label (probabilities), served on the labeled routes
    prices: ClassVar[bool] = False  # the value is a price, read against a reference price

    @abstractmethod
    def predicted_log_return(self, value: Decimal, reference: Decimal | None) -> float | None:
        """The log-return a scalar value predicts over the horizon; None when it cannot be known without a model (or
        the reference). ``ValueError`` for a value the kind cannot hold (a price <= 0)."""

    def interval_log_return(self, value: Decimal, reference: Decimal) -> float | None:
        """A confidence-interval value as a log-return (None: skip that point)."""
        return self.predicted_log_return(value, reference)

    def predicted_price(self, value: Decimal, reference: Decimal, log_return: float) -> Decimal | None:
        """The price the prediction implies (None when it would overflow)."""
        return exp_price(reference, log_return) if abs(log_return) < 50 else None

    def value_problem(self, value: Decimal, label_values: tuple[Decimal, ...]) -> tuple[RejectReason, str] | None:
        """Why a finite value is impossible for this kind (None: plausible)."""
        return None

    def truth_value(self, start: Decimal, end: Decimal, log_return: Decimal) -> Decimal:
        """The scalar ground truth of a window from ``start`` to ``end`` price (``log_return`` = ln(end/start))."""
        return log_return

    @property
    def needs_start_price(self) -> bool:
        """Whether the scalar ground truth needs the price at the window's start."""
        return True


def log_ratio(value: Decimal, reference: Decimal) -> float:
    with localcontext() as ctx:
        ctx.prec = 40
        return float((value / reference).ln())


def exp_price(reference: Decimal, log_return: float) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        return reference * Decimal(repr(log_return)).exp()


def _registry() -> dict[str, TopicKind]:
    from bot.allora.kinds.classification import Classification
    from bot.allora.kinds.log_return import LogReturn
    from bot.allora.kinds.price import Price

    return {k.name: k for k in (LogReturn(), Price(), Classification())}


KINDS: dict[str, TopicKind] = _registry()


def kind_of(name: str) -> TopicKind:
    """The kind named ``name`` (``ValueError`` for an unknown one)."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown topic kind {name!r} (one of {', '.join(KINDS)})") from None
