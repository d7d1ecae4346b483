"""Where one bet's decision latency goes: monotonic marks along the hot path, from the bet job's trigger to the raw
transaction handed to the RPC client.

A ``BetTrace`` costs one ``perf_counter`` call and one list append per mark. The daemon logs the phases of every bet
at DEBUG, keeps the slowest recent ones in its stats, and ``benchmarks/bench_latency.py`` prints their percentiles.
"""

from __future__ import annotations

import time


class BetTrace:
    __slots__ = ("marks", "start")

    def __init__(self, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else start
        self.marks: list[tuple[str, float]] = []

    def mark(self, phase: str, at: float | None = None) -> None:
        """The phase named ``phase`` ended now, or at ``at`` (it began at the previous mark, or at the trigger)."""
        self.marks.append((phase, time.perf_counter() if at is None else at))

    def phases_ms(self) -> dict[str, float]:
        """Milliseconds spent in each phase, in order; a phase marked twice accumulates."""
        out: dict[str, float] = {}
        previous = self.start
        for phase, at in self.marks:
            out[phase] = out.get(phase, 0.0) + (at - previous) * 1000.0
            previous = at
        return out

    def total_ms(self) -> float:
        return (self.marks[-1][1] - self.start) * 1000.0 if self.marks else 0.0

    def describe(self) -> str:
        return " ".join(f"{phase}={ms:.1f}" for phase, ms in self.phases_ms().items())
