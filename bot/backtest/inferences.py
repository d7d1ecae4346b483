"""Signals for the backtest: logged inferences, or forecasts generated offline over the price history.

An *inference frame* has the columns ``timestamp_ms`` (int64, when the inference became available), ``p_up``
(probability of an up move over the round), ``predicted_return`` (log-return, NaN when unknown) and ``source``.
Offline forecasts are labelled ``source="offline:<name>"``: they are **not Allora** predictions, only a stand-in that
lets the whole pipeline run offline; reports say so.

``align_inferences`` gives each round the latest inference published *strictly before* its decision time
(``lock - lead``) with ``pandas.merge_asof(..., allow_exact_matches=False)``: nothing published at or after the
decision can leak into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr, ndtri

from bot.allora.logexport import EXPORT_MARKERS, SIGNAL_USER_FILE, label_of
from bot.backtest.exact import to_float
from bot.backtest.feeds import candle_known_at
from bot.errors import InputError

INFERENCE_COLUMNS: tuple[str, ...] = ("timestamp_ms", "p_up", "predicted_return", "source")
SIGNAL_COLUMNS: tuple[str, ...] = ("p_up", "predicted_return", "signal_age", "signal_ts_ms")
DEFAULT_VOLATILITY = 0.0015  # per-round sigma of the log-return (TopicConfig.volatility's default)
_TIME_NAMES = ("timestamp_ms", "timestamp", "ts", "time", "datetime")
_RETURN_NAMES = ("predicted_return", "log_return", "value")

FloatArray = npt.NDArray[np.float64]


class InferenceError(InputError):
    """Inferences could not be loaded or generated."""


def p_up_from_return(predicted_return: FloatArray, volatility: float | FloatArray) -> FloatArray:
    """``P(return > 0)`` for a normal return with mean ``predicted_return`` and sd ``volatility`` — by the live
    conversion itself (``bot.allora.normalise.prob_above_zero``, what ``to_signal`` uses without intervals), so a log
    of returns gives the backtest the p_up the daemon would have computed. NaN stays NaN."""
    from bot.allora.normalise import prob_above_zero

    mu = np.asarray(predicted_return, dtype=np.float64)
    sigma = np.broadcast_to(np.asarray(volatility, dtype=np.float64), mu.shape)
    out = np.full(mu.shape, np.nan)
    ok = np.isfinite(mu)
    out[ok] = [prob_above_zero(m, s) for m, s in zip(mu[ok].tolist(), sigma[ok].tolist(), strict=True)]
    return out


def _timestamps_ms(values: pd.Series) -> npt.NDArray[np.int64]:
    if pd.api.types.is_numeric_dtype(values):
        arr = values.to_numpy(dtype=np.float64)
        # unix seconds (~1.7e9) or milliseconds (~1.7e12)
        return np.asarray(np.where(np.abs(arr) < 1e11, arr * 1000.0, arr).round(), dtype=np.int64)
    stamps = pd.to_datetime(values, utc=True)
    return np.asarray((stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1), dtype=np.int64)


def load_inferences(
    data: str | Path | pd.DataFrame, *, volatility: float = DEFAULT_VOLATILITY, source: str | None = None
) -> pd.DataFrame:
    """Inferences from a CSV/ndjson log or a DataFrame.

    Needs a time column (``timestamp_ms``, ``timestamp``, ``ts``, ``time`` or ``datetime``: unix s or ms, or ISO text)
    and ``p_up`` and/or a predicted log-return (``predicted_return``, ``log_return`` or ``value``); a return without
    ``p_up`` is turned into one with ``volatility`` (normal model). ``source`` defaults to the log's ``source``
    column, else ``log:<file name>``.

    The bot's own log (``inferences export``: ``bot.allora.logexport``) is read by its rule: rejected rows are dropped
    and each row counts from ``max(timestamp, fetched_at_ms)``, its fetch time. ``attrs["provenance"]`` is the
    report label (``user file (unverified)`` for anything that is not such an export).
    """
    if isinstance(data, pd.DataFrame):
        frame = data
        label = source or "log:dataframe"
    else:
        file = Path(data)
        if not file.is_file():
            raise InferenceError(f"inference file not found: {file}")
        name = file.name.lower()
        if name.endswith((".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")):
            frame = pd.read_json(file, lines=True)
        elif name.endswith((".csv", ".csv.gz")):
            frame = pd.read_csv(file)
        else:
            raise InferenceError(f"{file}: expected .csv, .csv.gz, .ndjson or .jsonl")
        label = source or f"log:{file.name}"
    time_col = next((c for c in _TIME_NAMES if c in frame.columns), None)
    if time_col is None:
        raise InferenceError(f"inferences need a time column (one of {', '.join(_TIME_NAMES)})")
    ret_col = next((c for c in _RETURN_NAMES if c in frame.columns), None)
    if "p_up" not in frame.columns and ret_col is None:
        raise InferenceError(f"inferences need p_up or a predicted return ({', '.join(_RETURN_NAMES)})")
    is_log = bool(EXPORT_MARKERS & set(frame.columns))
    rejected = 0
    if "accepted" in frame.columns:  # the bot's log: rejected rows were never acted on
        accepted = frame["accepted"].map(_as_bool)
        if accepted.isna().any():
            bad = [int(i) + 2 for i in np.flatnonzero(accepted.isna().to_numpy())[:5]]
            raise InferenceError(f"accepted must be true/false (bad rows, 1-based with header: {bad})")
        rejected = int((~accepted.astype(bool)).sum())
        frame = frame.loc[accepted.astype(bool).to_numpy()].reset_index(drop=True)
    ts = _timestamps_ms(frame[time_col])
    if "fetched_at_ms" in frame.columns:  # usable when fetched, never at the network's own (earlier) timestamp
        fetched = pd.to_numeric(frame["fetched_at_ms"], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(fetched).any():
            raise InferenceError("fetched_at_ms must be a number on every accepted row")
        ts = np.maximum(ts, fetched.astype(np.int64))
    ret = frame[ret_col].to_numpy(dtype=np.float64) if ret_col else np.full(len(frame), np.nan)
    p_up = frame["p_up"].to_numpy(dtype=np.float64) if "p_up" in frame.columns else p_up_from_return(ret, volatility)
    if np.any((p_up < 0) | (p_up > 1)):
        raise InferenceError("p_up must lie in [0, 1]")
    src = frame["source"].astype(str).to_numpy() if source is None and "source" in frame.columns else label
    out = pd.DataFrame({"timestamp_ms": ts, "p_up": p_up, "predicted_return": ret, "source": src})
    out = out.sort_values("timestamp_ms", kind="stable").reset_index(drop=True)
    provenance = label_of(frame["provenance"].astype(str)) if is_log and "provenance" in frame.columns else SIGNAL_USER_FILE
    out.attrs.update(provenance=provenance, rejected_rows=rejected, aligned_on="fetch time" if is_log else time_col)
    return out


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


# --- offline forecasters ----------------------------------------------------------------------------------------------


class Forecaster(Protocol):
    """Makes one forecast per price, using only that price and the ones before it."""

    name: str

    def predict(
        self, times: npt.NDArray[np.int64], prices: FloatArray, step_seconds: int
    ) -> tuple[FloatArray, FloatArray]:
        """``(predicted_return, p_up)`` for the next step after each price (NaN where it cannot say)."""
        ...


def _step_returns(times: npt.NDArray[np.int64], prices: FloatArray, step_seconds: int) -> FloatArray:
    """One-step log-returns, NaN across a gap (two prices more than 1.5 steps apart) — never bridged."""
    logp = np.log(prices)
    ret = np.full(len(prices), np.nan)
    ret[1:] = np.diff(logp)
    gaps = np.zeros(len(prices), dtype=bool)
    gaps[1:] = np.diff(times) > 1.5 * step_seconds
    ret[gaps] = np.nan
    return ret


@dataclass
class MomentumForecaster:
    """Trend follower: the mean of the last ``lookback`` step returns, over a rolling volatility.

    ``predicted_return = sign * gain * mean(last lookback returns)``; ``p_up = Phi(predicted_return / sigma)`` with
    ``sigma`` the sd of the last ``vol_window`` returns. ``sign=-1`` is the reversal forecaster.
    """

    lookback: int = 3
    vol_window: int = 48
    gain: float = 0.25  # shrinks the noisy mean towards 0 so p_up is not wildly over-confident
    sign: float = 1.0
    name: str = "momentum"

    def predict(
        self, times: npt.NDArray[np.int64], prices: FloatArray, step_seconds: int
    ) -> tuple[FloatArray, FloatArray]:
        ret = pd.Series(_step_returns(times, prices, step_seconds))
        mean = ret.rolling(self.lookback, min_periods=self.lookback).mean().to_numpy()
        vol = ret.rolling(self.vol_window, min_periods=max(2, self.vol_window // 2)).std().to_numpy()
        pred = self.sign * self.gain * mean
        with np.errstate(divide="ignore", invalid="ignore"):
            p_up = np.where(vol > 0, ndtr(pred / vol), np.nan)
        return pred, p_up


def _reversal() -> MomentumForecaster:
    return MomentumForecaster(sign=-1.0, name="reversal")


@dataclass
class RandomForecaster:
    """Noise: ``p_up ~ Beta(concentration, concentration)`` from a seeded generator (a no-skill control); the
    predicted return is the one that ``p_up`` implies at ``volatility``."""

    seed: int = 0
    concentration: float = 20.0
    volatility: float = DEFAULT_VOLATILITY
    name: str = "random"
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def predict(
        self, times: npt.NDArray[np.int64], prices: FloatArray, step_seconds: int
    ) -> tuple[FloatArray, FloatArray]:
        p_up = self._rng.beta(self.concentration, self.concentration, len(prices))
        return np.asarray(ndtri(p_up) * self.volatility, dtype=np.float64), p_up


FORECASTERS = {"momentum": MomentumForecaster, "reversal": _reversal, "random": RandomForecaster}


def get_forecaster(name: str, **params: object) -> Forecaster:
    """A built-in offline forecaster by name (``momentum``, ``reversal``, ``random``)."""
    builder = FORECASTERS.get(name)
    if builder is None:
        raise InferenceError(f"unknown forecaster {name!r} (built-in: {', '.join(FORECASTERS)})")
    try:
        forecaster: Forecaster = builder(**params)  # type: ignore[operator]
    except TypeError as exc:
        raise InferenceError(f"forecaster {name!r}: {exc}") from None
    return forecaster


def offline_inferences(
    times: npt.NDArray[np.int64], prices: FloatArray, forecaster: Forecaster, step_seconds: int
) -> pd.DataFrame:
    """Forecasts over a price series; ``times[i]`` (unix s) is when ``prices[i]`` became known and the forecast with it."""
    times = np.asarray(times, dtype=np.int64)
    prices = np.asarray(prices, dtype=np.float64)
    if len(times) != len(prices):
        raise InferenceError("times and prices differ in length")
    if len(times) > 1 and not bool(np.all(np.diff(times) > 0)):
        raise InferenceError("price times must be strictly increasing")
    pred, p_up = forecaster.predict(times, prices, step_seconds)
    return pd.DataFrame(
        {
            "timestamp_ms": times * 1000,
            "p_up": np.asarray(p_up, dtype=np.float64),
            "predicted_return": np.asarray(pred, dtype=np.float64),
            "source": f"offline:{forecaster.name}",
        }
    )


def candle_inferences(candles: pd.DataFrame, forecaster: Forecaster, timeframe_s: int) -> pd.DataFrame:
    """Offline forecasts over candle closes, each stamped when its bar closed."""
    return offline_inferences(
        candle_known_at(candles, timeframe_s), candles["close"].to_numpy(dtype=np.float64), forecaster, timeframe_s
    )


def round_price_inferences(rounds: pd.DataFrame, forecaster: Forecaster) -> pd.DataFrame:
    """Offline forecasts over the rounds' own lock prices (for round files without a candle feed).

    A lock price is known at its round's lock time, so the forecast made with it is stamped then.
    """
    times = rounds["lock_ts"].to_numpy(dtype=np.int64)
    prices = to_float(rounds["lock_price"].to_numpy())
    steps = np.diff(times)
    step = int(np.median(steps)) if len(steps) else 300
    return offline_inferences(times, prices, forecaster, step)


def forecast_at(
    forecaster: Forecaster,
    known_at: npt.NDArray[np.int64],
    closes: FloatArray,
    query_times: npt.NDArray[np.int64],
    step_seconds: int,
) -> tuple[FloatArray, FloatArray]:
    """The forecast made with the last price known at or before each query time (NaN before the data)."""
    pred, p_up = forecaster.predict(known_at, closes, step_seconds)
    idx = np.searchsorted(known_at, query_times, side="right") - 1
    ok = idx >= 0
    safe = np.where(ok, idx, 0)
    return np.where(ok, pred[safe], np.nan), np.where(ok, p_up[safe], np.nan)


# --- alignment --------------------------------------------------------------------------------------------------------


def decision_times_ms(rounds: pd.DataFrame, lead_seconds: float) -> npt.NDArray[np.int64]:
    """When each round is decided: ``lock - lead`` in unix ms."""
    return np.asarray(rounds["lock_ts"].to_numpy(dtype=np.int64) * 1000 - int(round(lead_seconds * 1000)), dtype=np.int64)


def align_inferences(
    rounds: pd.DataFrame, inferences: pd.DataFrame, lead_seconds: float, max_age_seconds: float | None = None
) -> pd.DataFrame:
    """Per round (same index as ``rounds``): the latest inference published strictly before ``lock - lead``.

    Columns ``p_up``, ``predicted_return``, ``signal_age`` (seconds) and ``signal_ts_ms``; NaN where there is none or
    it is older than ``max_age_seconds``. Inferences without a ``p_up`` (NaN) do not count as published.
    """
    decision = decision_times_ms(rounds, lead_seconds)
    order = np.argsort(decision, kind="stable")
    left = pd.DataFrame({"decision_ms": decision[order], "row": order})
    published = inferences.loc[inferences["p_up"].notna(), ["timestamp_ms", "p_up", "predicted_return"]]
    right = published.sort_values("timestamp_ms", kind="stable")
    right = right.rename(columns={"timestamp_ms": "signal_ts_ms"}).astype({"signal_ts_ms": np.int64})
    merged = pd.merge_asof(
        left,
        right,
        left_on="decision_ms",
        right_on="signal_ts_ms",
        direction="backward",
        allow_exact_matches=False,
    )
    n = len(rounds)
    out = {c: np.full(n, np.nan) for c in SIGNAL_COLUMNS}
    rows = merged["row"].to_numpy()
    ts = merged["signal_ts_ms"].to_numpy(dtype=np.float64)
    age = (merged["decision_ms"].to_numpy(dtype=np.float64) - ts) / 1000.0
    keep = np.isfinite(age)
    if max_age_seconds is not None:
        keep &= age <= max_age_seconds
    out["p_up"][rows] = np.where(keep, merged["p_up"].to_numpy(dtype=np.float64), np.nan)
    out["predicted_return"][rows] = np.where(keep, merged["predicted_return"].to_numpy(dtype=np.float64), np.nan)
    out["signal_age"][rows] = np.where(keep, age, np.nan)
    out["signal_ts_ms"][rows] = np.where(keep, ts, np.nan)
    return pd.DataFrame(out, index=rounds.index)
