"""Price topics: the value is the predicted price at the horizon, read against a reference price; ground truth is
the price at the window's end."""

from __future__ import annotations

from decimal import Decimal

from bot.allora.kinds import TopicKind, log_ratio
from bot.allora.reasons import RejectReason


class Price(TopicKind):
    name = "price"
    prices = True

    def predicted_log_return(self, value: Decimal, reference: Decimal | None) -> float | None:
        if value <= 0:
            raise ValueError(f"price topic value must be positive, got {value}")
        if reference is None or reference <= 0:
            return None
        return log_ratio(value, reference)

    def interval_log_return(self, value: Decimal, reference: Decimal) -> float | None:
        return log_ratio(value, reference) if value > 0 and reference > 0 else None

    def predicted_price(self, value: Decimal, reference: Decimal, log_return: float) -> Decimal | None:
        return value

    def value_problem(self, value: Decimal, label_values: tuple[Decimal, ...]) -> tuple[RejectReason, str] | None:
        return (RejectReason.NEGATIVE_PRICE, f"price {value}") if value <= 0 else None

    def truth_value(self, start: Decimal, end: Decimal, log_return: Decimal) -> Decimal:
        return end

    @property
    def needs_start_price(self) -> bool:
        return False
