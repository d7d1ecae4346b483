"""Exponential, capped backoff with optional, seedable jitter (pure apart from the injected RNG)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before the next poll after ``consecutive`` retryable errors: ``base * factor**consecutive``, capped.

    ``base`` is the topic's normal poll interval, so a rate-limited topic is never polled faster than usual.
    ``jitter`` is a fraction: the delay is multiplied by a uniform factor in [1 - jitter, 1 + jitter].
    """

    factor: float = 2.0
    cap_seconds: float = 300.0
    jitter: float = 0.0

    def delay(self, base: float, consecutive: int, rng: random.Random | None = None) -> float:
        raw = base * self.factor ** max(0, consecutive)
        delay = min(self.cap_seconds, raw) if self.cap_seconds >= base else base
        if self.jitter > 0:
            source = rng if rng is not None else random
            delay *= 1.0 + self.jitter * (2.0 * source.random() - 1.0)
        return max(0.0, delay)
