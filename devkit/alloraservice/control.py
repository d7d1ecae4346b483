"""Scripted faults for the local Allora service: what the next responses should get wrong.

Faults are queued from Python (``Control.inject``) or over HTTP (``POST /_control``). A fault applies to a route
family (``consumer``, ``chain``, ``topics`` or ``any``), optionally one topic, for ``times`` responses or until cleared.
``advance`` moves the service clock (for the demo and tests).
"""

from __future__ import annotations

import enum
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal

Route = Literal["consumer", "chain", "topics", "any"]


class FaultKind(enum.StrEnum):
    HTTP_401 = "http_401"
    HTTP_404 = "http_404"
    HTTP_429 = "http_429"
    HTTP_500 = "http_500"
    TIMEOUT = "timeout"  # sleep delay_seconds, then answer normally
    STALE = "stale"  # serve the inference of shift_seconds ago
    FUTURE = "future"  # serve a timestamp shift_seconds ahead
    BAD_SIGNATURE = "bad_signature"  # 65 bytes that recover to nothing
    WRONG_SIGNER = "wrong_signer"  # a valid signature by another key
    TAMPERED = "tampered"  # value changed after signing
    NAN = "nan"  # value "NaN"
    NEGATIVE = "negative"  # value negated
    GARBAGE_JSON = "garbage_json"  # a body that is not JSON
    DEEP_JSON = "deep_json"  # 100k nested arrays (would overflow the C stack of a naive JSON parser)
    UNSIGNED = "unsigned"  # empty signature
    RESCALED = "rescaled"  # genuinely signed, token_decimals (not signed) lowered by 1: every value 10x larger


TRANSPORT_FAULTS = frozenset(
    {FaultKind.HTTP_401, FaultKind.HTTP_404, FaultKind.HTTP_429, FaultKind.HTTP_500, FaultKind.GARBAGE_JSON,
     FaultKind.DEEP_JSON}
)


@dataclass
class Fault:
    kind: FaultKind
    route: Route = "any"
    topic_id: int | None = None
    times: int | None = None  # None: until cleared
    delay_seconds: float = 30.0
    shift_seconds: float = 7200.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        allowed = {"kind", "route", "topic_id", "times", "delay_seconds", "shift_seconds"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        route = data.get("route", "any")
        if route not in ("consumer", "chain", "topics", "any"):
            raise ValueError(f"unknown route {route!r}")
        return cls(
            kind=FaultKind(data["kind"]),
            route=route,
            topic_id=None if data.get("topic_id") is None else int(data["topic_id"]),
            times=None if data.get("times") is None else int(data["times"]),
            delay_seconds=float(data.get("delay_seconds", 30.0)),
            shift_seconds=float(data.get("shift_seconds", 7200.0)),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data


class Control:
    """Thread-safe fault queue and clock offset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._offset = 0.0

    def inject(self, kind: FaultKind | str, **options: Any) -> Fault:
        fault = Fault(kind=FaultKind(kind), **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, route: Route, topic_id: int | None) -> Fault | None:
        """The first fault matching this response, consumed once when it has a count."""
        with self._lock:
            for fault in self._faults:
                if fault.route not in ("any", route):
                    continue
                if fault.topic_id is not None and fault.topic_id != topic_id:  # blocks/topic lists: untargeted only
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
            return self._offset

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset
