"""Log-return topics: the value is the predicted ln(price at horizon / price now); ground truth is the realised one."""

from __future__ import annotations

from decimal import Decimal

from bot.allora.kinds import TopicKind


class LogReturn(TopicKind):
    name = "log-return"

    def predicted_log_return(self, value: Decimal, reference: Decimal | None) -> float | None:
        return float(value)
