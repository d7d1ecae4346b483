"""The one strategy interface used unchanged by live, paper and backtest runs.

A strategy is vectorised: ``Strategy.decide(ctx)`` takes a pandas DataFrame of *decision contexts* (one row per round to
decide) and returns one decision per row. The backtest passes every round at once (float64 columns; exact int64 pools
are accepted too). Live and paper runs call ``decide_one(**fields)`` with exact ``int`` wei amounts: the same code runs
on a one-row context and the stake comes back as an exact ``int`` (``Decision``).

Context columns (the ``*_COL`` constants below):

=================  =========  =====================================================================================
column             dtype      meaning
=================  =========  =====================================================================================
epoch              int64      round epoch
p_up               float64    probability that the round closes above its lock price; NaN = no signal
predicted_return   float64    the forecaster's predicted log-return over the round (NaN = none)
signal_age         float64    seconds between the signal's timestamp and the decision (NaN = none)
bull_pool_wei      float64    bull pool seen at decision time (int64 accepted; live: exact ``int``)
bear_pool_wei      float64    bear pool seen at decision time (int64 accepted; live: exact ``int``)
fee_bp             float64    treasury fee in basis points (300 = 3 %)
seconds_to_lock    float64    seconds left before the round locks
bankroll_wei       float64    bankroll the stake is sized from (live: exact ``int``)
min_bet_wei        float64    the market's minimum bet (live: exact ``int``)
ai_direction       float64    AI dialect: +1 on-chain AI price above the reference, -1 below, 0 none / not AI
=================  =========  =====================================================================================

Output columns: ``side`` (int8: 0 bull, 1 bear, -1 skip), ``stake_wei`` (int64, 0 on skips) and ``reason``
(categorical of strings); strategies may add numeric diagnostic columns (e.g. ``ev``).

Subclasses implement ``propose(ctx: Columns) -> Proposal``: ``ctx`` maps column names to NumPy arrays (float64, in
chunks of at most ``chunk_rows`` rows) and the proposal holds arrays too. ``decide`` then applies the rules every
strategy shares: stakes are floored to the stake grid (``bot.money``: whole multiples of 1/1000 of the minimum bet's
decade, so the wei never depend on float noise), never above the bankroll, and a stake below ``min_bet_wei`` becomes
a skip.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.domain import Position
from bot.errors import InputError
from bot.money import floor_to_quantum, stake_quantum_array

EPOCH_COL = "epoch"
P_UP_COL = "p_up"
PREDICTED_RETURN_COL = "predicted_return"
SIGNAL_AGE_COL = "signal_age"
BULL_POOL_COL = "bull_pool_wei"
BEAR_POOL_COL = "bear_pool_wei"
FEE_BP_COL = "fee_bp"
SECONDS_TO_LOCK_COL = "seconds_to_lock"
BANKROLL_COL = "bankroll_wei"
MIN_BET_COL = "min_bet_wei"
AI_DIRECTION_COL = "ai_direction"

CONTEXT_COLUMNS: tuple[str, ...] = (
    EPOCH_COL,
    P_UP_COL,
    PREDICTED_RETURN_COL,
    SIGNAL_AGE_COL,
    BULL_POOL_COL,
    BEAR_POOL_COL,
    FEE_BP_COL,
    SECONDS_TO_LOCK_COL,
    BANKROLL_COL,
    MIN_BET_COL,
    AI_DIRECTION_COL,
)
# Defaults ``decide_one`` fills in for optional fields.
CONTEXT_DEFAULTS: Mapping[str, Any] = {
    EPOCH_COL: 0,
    P_UP_COL: math.nan,
    PREDICTED_RETURN_COL: math.nan,
    SIGNAL_AGE_COL: math.nan,
    SECONDS_TO_LOCK_COL: math.nan,
    AI_DIRECTION_COL: 0,
}

SIDE_COL = "side"
STAKE_COL = "stake_wei"
REASON_COL = "reason"
DECISION_COLUMNS: tuple[str, ...] = (SIDE_COL, STAKE_COL, REASON_COL)

SKIP = -1
BULL = int(Position.BULL)
BEAR = int(Position.BEAR)

REASON_BELOW_MIN_BET = "skip: stake below min bet"
REASON_INVALID_STAKE = "skip: no valid stake"
_COMMON_REASONS: tuple[str, ...] = (REASON_BELOW_MIN_BET, REASON_INVALID_STAKE)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class StrategyError(InputError):
    """A strategy could not be built or used (bad parameters, missing context columns)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision for one round (what live and paper runs act on)."""

    side: Position | None
    stake_wei: int
    reason: str

    @property
    def bet(self) -> bool:
        return self.side is not None and self.stake_wei > 0


@dataclass(slots=True)
class Proposal:
    """Raw vectorised proposal of a strategy, before the shared rules.

    ``side``: int array (BULL/BEAR/SKIP); ``stake``: float64 wei (ignored on skips); ``reason``: int8 codes into
    ``labels``; ``extra``: optional numeric diagnostic columns copied to the output frame.
    """

    side: npt.NDArray[np.int8]
    stake: FloatArray
    reason: npt.NDArray[np.int8]
    labels: tuple[str, ...]
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def column(ctx: pd.DataFrame, name: str) -> FloatArray:
    """A context column as a float64 array (works for the exact ``int``/object columns live passes)."""
    if name not in ctx.columns:
        raise StrategyError(f"decision context lacks column {name!r} (expected columns: {', '.join(CONTEXT_COLUMNS)})")
    series = ctx[name]
    if series.dtype == np.float64:
        return np.asarray(series.to_numpy(), dtype=np.float64)  # a view: no copy in the hot path
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


# Columns that are usually one value for a whole backtest: ``Columns.value`` hands them out as a float.
_CONSTANT_CANDIDATES = (FEE_BP_COL, BANKROLL_COL, MIN_BET_COL, SECONDS_TO_LOCK_COL)


class Columns(Mapping[str, np.ndarray]):
    """The decision context as NumPy arrays (float64; ``epoch`` int64): what ``propose`` receives.

    ``decide`` wraps the DataFrame once and hands ``propose`` slices of at most ``Strategy.chunk_rows`` rows, so the
    temporaries of a long vectorised computation stay in the CPU cache. Integer columns (e.g. exact int64 pools) are
    converted to float64 slice by slice, when first read. ``ctx[name]`` is always a float64 array (``epoch``: int64);
    ``ctx.value(name)`` is a float when the column holds one value for every row (cheaper scalar arithmetic) and the
    array otherwise — both broadcast the same way.
    """

    __slots__ = ("_raw", "_cache", "_constants", "diagnostics", "n")

    def __init__(self, arrays: Mapping[str, np.ndarray], n: int, constants: Mapping[str, float] | None = None) -> None:
        self._raw = dict(arrays)
        self._cache: dict[str, np.ndarray] = {}
        self._constants = dict(constants or {})
        self.n = n
        self.diagnostics = False  # whether propose should fill its optional diagnostic columns

    @classmethod
    def from_frame(cls, ctx: pd.DataFrame) -> Columns:
        arrays: dict[str, np.ndarray] = {}
        constants: dict[str, float] = {}
        for name in ctx.columns:
            key = str(name)
            if key == EPOCH_COL:
                arrays[key] = np.asarray(ctx[key].to_numpy(dtype=np.int64))
            elif key in CONTEXT_COLUMNS:
                series = ctx[key]
                if series.dtype.kind in "iuf":
                    arr = np.asarray(series.to_numpy())  # a view; converted per slice
                else:
                    arr = column(ctx, key)  # object (exact big ints) or other: to float64 once
                arrays[key] = arr
                if key in _CONSTANT_CANDIDATES and len(arr) and np.isfinite(arr[0]):
                    if arr.strides == (0,) or bool((arr == arr[0]).all()):  # stride 0: a broadcast constant
                        constants[key] = float(arr[0])
        return cls(arrays, len(ctx), constants)

    def __getitem__(self, name: str) -> np.ndarray:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        try:
            raw = self._raw[name]
        except KeyError:
            raise StrategyError(
                f"decision context lacks column {name!r} (expected columns: {', '.join(CONTEXT_COLUMNS)})"
            ) from None
        arr = raw if (raw.dtype == np.float64 or name == EPOCH_COL) else raw.astype(np.float64)
        self._cache[name] = arr
        return arr

    def value(self, name: str) -> float | np.ndarray:
        """The column as a float when it is constant, else as the array."""
        if name in self._constants:
            return self._constants[name]
        return self[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def slice(self, start: int, stop: int) -> Columns:
        part = Columns({k: v[start:stop] for k, v in self._raw.items()}, min(stop, self.n) - start, self._constants)
        part.diagnostics = self.diagnostics
        return part


class Strategy(ABC):
    """Base class of every strategy. Subclasses set ``name`` and ``labels`` and implement ``propose``."""

    name: ClassVar[str] = "custom"
    required_columns: ClassVar[tuple[str, ...]] = (BULL_POOL_COL, BEAR_POOL_COL, BANKROLL_COL, MIN_BET_COL)

    def params(self) -> dict[str, Any]:
        """The strategy's parameters (for reports and sweeps); subclasses override."""
        return {}

    @abstractmethod
    def propose(self, ctx: Columns) -> Proposal:
        """Vectorised raw decisions for the ``ctx.n`` rows of ``ctx`` (column name -> array)."""

    chunk_rows: ClassVar[int] = 32768

    def decide(self, ctx: pd.DataFrame, *, diagnostics: bool = False) -> pd.DataFrame:
        """Decisions for every row of ``ctx`` (see the module docstring for the columns).

        ``diagnostics=True`` asks the strategy for its optional numeric columns (e.g. ``ev``); backtests leave it off
        (it costs time), ``decide_one`` turns it on for the log line.
        """
        missing = [c for c in self.required_columns if c not in ctx.columns]
        if missing:
            raise StrategyError(f"strategy {self.name!r}: decision context lacks column(s) {', '.join(missing)}")
        cols = Columns.from_frame(ctx)
        cols.diagnostics = diagnostics
        side, stake, codes, labels, extra = self._decide_columns(cols)
        out: dict[str, Any] = {
            SIDE_COL: side,
            STAKE_COL: stake,
            REASON_COL: pd.Categorical.from_codes(codes, categories=_unique(labels), validate=False),
            **extra,
        }
        return pd.DataFrame(out, index=ctx.index, copy=False)

    def _decide_columns(
        self, cols: Columns
    ) -> tuple[npt.NDArray[np.int8], IntArray, npt.NDArray[np.int8], tuple[str, ...], dict[str, np.ndarray]]:
        """``propose`` chunk by chunk plus the shared rules: side, stake, reason codes, labels, diagnostic columns."""
        n = cols.n
        side = np.empty(n, dtype=np.int8)
        stake = np.empty(n, dtype=np.int64)
        codes = np.empty(n, dtype=np.int8)
        extra: dict[str, np.ndarray] = {}
        labels: tuple[str, ...] | None = None
        for start in range(0, max(n, 1), self.chunk_rows):
            stop = min(start + self.chunk_rows, n)
            part = cols if (start == 0 and stop == n) else cols.slice(start, stop)
            prop = self.propose(part)
            if labels is None:
                labels = tuple(prop.labels) + _COMMON_REASONS
            elif tuple(prop.labels) + _COMMON_REASONS != labels:
                raise StrategyError(f"strategy {self.name!r}: reason labels must not change between rows")
            _finish(self.name, prop, part, side[start:stop], stake[start:stop], codes[start:stop])
            for key, values in prop.extra.items():
                if key not in extra:
                    extra[key] = np.empty(n, dtype=np.asarray(values).dtype)
                extra[key][start:stop] = values
        assert labels is not None
        skipped = side == SKIP
        for arr in extra.values():
            if arr.dtype.kind == "f":
                arr[skipped] = np.nan
        return side, stake, codes, labels, extra

    def decide_one(self, **fields: Any) -> Decision:
        """Decide one round from exact values (live and paper runs).

        Required fields: ``bull_pool_wei``, ``bear_pool_wei``, ``fee_bp``, ``bankroll_wei``, ``min_bet_wei``; the others
        default to "no signal" (see ``CONTEXT_DEFAULTS``). The same vectorised code runs on a one-row context (without
        the DataFrame round trip); the stake comes back as an exact ``int``, never above the bankroll and never below
        the minimum bet (below it, the decision is a skip).
        """
        unknown = sorted(set(fields) - set(CONTEXT_COLUMNS))
        if unknown:
            raise StrategyError(f"unknown decision field(s): {', '.join(unknown)} (known: {', '.join(CONTEXT_COLUMNS)})")
        row = {**CONTEXT_DEFAULTS, **fields}
        missing = [c for c in CONTEXT_COLUMNS if c not in row]
        if missing:
            raise StrategyError(f"missing decision field(s): {', '.join(missing)}")
        arrays: dict[str, np.ndarray] = {}
        for key in CONTEXT_COLUMNS:
            value = row[key]
            if key == EPOCH_COL:
                arrays[key] = np.array([int(value)], dtype=np.int64)
            else:
                arrays[key] = np.array([math.nan if value is None else float(value)], dtype=np.float64)
        cols = Columns(arrays, 1)
        cols.diagnostics = True
        side_a, stake_a, codes, labels, extra = self._decide_columns(cols)
        side = int(side_a[0])
        reason = labels[int(codes[0])]
        details = [f"{k}={_fmt(v[0])}" for k, v in extra.items()]
        details = [d for d in details if not d.endswith("=nan")]
        if details:
            reason = f"{reason} ({', '.join(details)})"
        if side == SKIP:
            return Decision(None, 0, reason)
        stake = min(int(stake_a[0]), int(row[BANKROLL_COL]))
        if stake < int(row[MIN_BET_COL]) or stake <= 0:
            return Decision(None, 0, REASON_BELOW_MIN_BET)
        return Decision(Position(side), stake, reason)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def _finish(
    name: str,
    prop: Proposal,
    ctx: Columns,
    side_out: np.ndarray,
    stake_out: np.ndarray,
    codes_out: np.ndarray,
) -> None:
    """Apply the shared rules to one chunk: the stake grid, at most the bankroll, at least the minimum bet (else skip)."""
    n = ctx.n
    if not (len(prop.side) == len(prop.stake) == len(prop.reason) == n):
        raise StrategyError(f"strategy {name!r}: proposal length does not match the context ({n} rows)")
    side = np.asarray(prop.side, dtype=np.int8)
    min_bet = ctx.value(MIN_BET_COL)
    with np.errstate(invalid="ignore"):
        # The one float -> wei rule (bot.money): floored to the stake grid, so library noise never reaches the wei.
        capped = np.fmin(np.asarray(prop.stake, dtype=np.float64), ctx.value(BANKROLL_COL))
        stake_wei = floor_to_quantum(capped, stake_quantum_array(min_bet))
        stake = np.where(np.isnan(capped), np.nan, stake_wei.astype(np.float64))
        ok = stake >= min_bet  # False on NaN
    betting = side >= 0
    keep = betting & ok
    codes_out[:] = prop.reason
    side_out[:] = side
    if not np.array_equal(keep, betting):  # some proposed bets fail the shared rules (rare: take the slow path)
        drop = betting & ~ok
        invalid = drop & np.isnan(stake)
        codes_out[drop] = len(prop.labels)
        codes_out[invalid] = len(prop.labels) + 1
        side_out[drop] = SKIP
    stake_out[:] = stake_wei * keep


def _unique(labels: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for label in labels:
        if label in seen:
            raise StrategyError(f"duplicate reason label {label!r}")
        seen[label] = None
    return list(seen)


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    return str(value)


def make_context(n: int | None = None, **columns: Any) -> pd.DataFrame:
    """Build a decision-context frame from arrays or scalars (scalars are broadcast); missing optional columns default."""
    lengths = {len(v) for v in columns.values() if np.ndim(v) == 1}
    if n is None:
        if len(lengths) != 1:
            raise StrategyError("make_context: give n or at least one array column (all of the same length)")
        n = lengths.pop()
    data: dict[str, Any] = {}
    for name in CONTEXT_COLUMNS:
        value = columns.get(name, CONTEXT_DEFAULTS.get(name))
        if value is None:
            raise StrategyError(f"make_context: missing column {name!r}")
        arr = np.asarray(value)
        dtype = np.int64 if name == EPOCH_COL else np.float64
        data[name] = np.full(n, value, dtype=dtype) if arr.ndim == 0 else arr.astype(dtype, copy=False)
    return pd.DataFrame(data, copy=False)
