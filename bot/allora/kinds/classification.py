"""Classification (multi-label, e.g. up/down) topics: values are probabilities per label; no scalar log-return is
predicted without a model (the signal maps P(up) through the topic's volatility)."""

from __future__ import annotations

from decimal import Decimal

from bot.allora.kinds import TopicKind
from bot.allora.reasons import RejectReason


class Classification(TopicKind):
    name = "classification"
    multi_label = True

    def predicted_log_return(self, value: Decimal, reference: Decimal | None) -> float | None:
        return None

    def interval_log_return(self, value: Decimal, reference: Decimal) -> float | None:
        return float(value)

    def value_problem(self, value: Decimal, label_values: tuple[Decimal, ...]) -> tuple[RejectReason, str] | None:
        values = label_values or (value,)
        if any(v < 0 or v > 1 for v in values):
            return RejectReason.OUT_OF_RANGE, "probability outside [0, 1]"
        return None
