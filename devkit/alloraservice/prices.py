"""A real price series for the local Allora service, and the mapping from service (chain) time to series time."""

from __future__ import annotations

import bisect
import csv
import gzip
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PRICES = Path(__file__).resolve().parents[2] / "bot" / "data" / "BTCUSDT_5m_2025-05_06.csv.gz"
TimeMap = Callable[[float], float]


@dataclass(frozen=True)
class PriceSeries:
    """Candles closes; bar ``i`` covers [open_times[i], open_times[i] + bar_seconds) and closes at its end."""

    open_times: tuple[int, ...]  # unix seconds
    closes: tuple[float, ...]
    bar_seconds: int

    def __post_init__(self) -> None:
        if len(self.open_times) != len(self.closes) or not self.closes:
            raise ValueError("a price series needs as many open times as closes, and at least one bar")
        if any(price <= 0 for price in self.closes):
            raise ValueError("prices must be positive")

    @classmethod
    def load_csv(cls, path: str | Path) -> PriceSeries:
        """A CSV (optionally .gz) with ``open_time_ms`` and ``close`` columns, e.g. a Binance kline export."""
        file = Path(path)
        data = file.read_bytes()
        if file.suffix == ".gz":
            data = gzip.decompress(data)
        reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
        times: list[int] = []
        closes: list[float] = []
        for row in reader:
            times.append(int(row["open_time_ms"]) // 1000)
            closes.append(float(row["close"]))
        if len(times) < 2:
            raise ValueError(f"{file}: fewer than two bars")
        return cls(tuple(times), tuple(closes), times[1] - times[0])

    @classmethod
    def from_closes(cls, closes: Sequence[float], *, start: int = 1_746_057_600, bar_seconds: int = 300) -> PriceSeries:
        return cls(tuple(start + i * bar_seconds for i in range(len(closes))), tuple(closes), bar_seconds)

    def __len__(self) -> int:
        return len(self.closes)

    @property
    def start(self) -> int:
        return self.open_times[0]

    @property
    def end(self) -> int:
        """Close time of the last bar."""
        return self.open_times[-1] + self.bar_seconds

    def index_at(self, t: float) -> int | None:
        """The last bar closed at or before ``t`` (what is known at ``t``), or ``None`` before the first close."""
        index = bisect.bisect_right(self.open_times, t - self.bar_seconds) - 1
        return index if index >= 0 else None

    def head(self, bars: int) -> PriceSeries:
        return PriceSeries(self.open_times[:bars], self.closes[:bars], self.bar_seconds)


def identity_time(t: float) -> float:
    return t


def offset_time_map(service_anchor: float, series_anchor: float, speed: float = 1.0) -> TimeMap:
    """Service time ``service_anchor`` is series time ``series_anchor``; series time runs ``speed`` times faster."""

    def mapping(t: float) -> float:
        return series_anchor + (t - service_anchor) * speed

    return mapping
