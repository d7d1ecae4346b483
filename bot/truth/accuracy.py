"""Accuracy of logged inferences against realised outcomes: directional hit rate per topic/horizon and per side, with a
binomial test against a coin flip, a Wilson interval, and the loss (MSE/MAE) of predicted vs realised log-returns.

What to test against: Allora has published directional accuracy of roughly 53 % on short-term and roughly 58 % on
long-term BTC topics. With ``n`` independent windows the Wilson 95 % half-width is about ``1/sqrt(n)``: telling
53 % from 50 % needs on the order of 1,000 non-overlapping windows; the p-value and interval say whether a log has
that.

Inputs
------
``inferences``: a DataFrame with ``topic`` (topic name or id), ``timestamp`` (unix seconds, or datetimes) and at least
one prediction column: ``direction`` (+1/-1/0 or "up"/"down"/"bull"/"bear"), ``p_up`` (probability of up), or ``value``
(the topic's own quantity: predicted log-return for log-return topics, predicted price for price topics). Optional:
``reference_price`` (price known at ``timestamp``, for price topics), ``horizon_seconds`` (overrides the topic's).
The predicted direction is ``direction``, else ``p_up`` vs 0.5, else the sign of ``value`` (log-return topics) or of
``value - reference`` (price topics); 0 / exactly 0.5 is an abstention.

Outcomes: ``rounds`` (``RoundOutcome`` rows or a DataFrame with ``lock_ts, close_ts, lock_price, close_price`` and
optionally ``market, price_decimals, final, status``) and/or ``prices`` (a Series of prices indexed by unix second, a
DataFrame with ``timestamp`` and ``price``/``close``, or a mapping topic-or-asset -> either). For candles, index the
close price by the candle's close time.

Alignment (strictly no look-ahead)
----------------------------------
An inference at time ``t`` (rounded UP to the second) is scored against the first horizon window that starts at or
after ``t``:

- rounds: the first final, executed round with ``lock_ts >= t`` (and ``lock_ts - t <= max_delay``, default the
  horizon), whose duration ``close_ts - lock_ts`` matches the horizon within 10 % (or 30 s); realised = lock -> close.
  Rounds are used for a topic when ``round_topics`` maps one of its markets to it (or is ``None``);
- prices: start = the first price at ``ts >= t`` (within ``max_delay``), end = the first price at
  ``ts >= start + horizon`` (within the series' median spacing); realised = start -> end.

The reference price of a price-topic prediction is only ever known-at-``t`` data: ``reference_price``, else the last
price at ``ts <= t``, else the close of the last round closed at ``<= t``. A flat realised window (end == start) is
excluded from hit counts (counted as ``n_flat``). With ``dedupe`` (default) only the LAST inference before each window
start is scored (later ones carry no new window); with ``non_overlapping`` scored windows are also thinned so that they
do not overlap — binomial p-values assume independent windows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from bot.allora.kinds import kind_of
from bot.truth.topics import TopicSpec, as_specs

Alternative = Literal["two-sided", "greater", "less"]
PUBLISHED_CLAIM = {
    "short_term_hit_rate": 0.53,
    "long_term_hit_rate": 0.58,
    "asset": "BTC",
    "status": "Allora's own publication, not measured or verified here",
}


@dataclass(frozen=True, slots=True)
class HitStats:
    """Hits out of ``n`` scored calls: rate, binomial p-value vs 0.5, Wilson confidence interval."""

    n: int
    hits: int
    hit_rate: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None

    @classmethod
    def of(cls, hits: int, n: int, *, confidence: float = 0.95, alternative: Alternative = "two-sided") -> HitStats:
        if n == 0:
            return cls(0, 0, None, None, None, None)
        test = binomtest(hits, n, 0.5, alternative=alternative)
        ci = test.proportion_ci(confidence_level=confidence, method="wilson")
        return cls(n, hits, hits / n, float(test.pvalue), float(ci.low), float(ci.high))


@dataclass(frozen=True, slots=True)
class TopicAccuracy:
    topic: str
    topic_id: int
    kind: str
    horizon_seconds: int
    source: str  # rounds | prices | none
    n_inferences: int
    n_unmatched: int  # no window within max_delay, no reference price, or no prediction
    n_abstain: int
    n_flat: int
    overall: HitStats
    up: HitStats  # calls of "up": hit = realised up
    down: HitStats
    base_rate_up: float | None  # share of scored windows that went up (the always-up baseline's hit rate)
    n_loss: int
    mse: float | None  # predicted vs realised log-return
    mae: float | None
    brier: float | None  # when p_up is given

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AccuracyReport:
    topics: list[TopicAccuracy] = field(default_factory=list)
    confidence: float = 0.95
    alternative: str = "two-sided"
    alignment: str = "first window starting at or after the inference time"
    signal_provenance: str = "user file (unverified)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal_provenance": self.signal_provenance,
            "confidence": self.confidence,
            "alternative": self.alternative,
            "alignment": self.alignment,
            "published_claim": PUBLISHED_CLAIM,
            "topics": [t.to_dict() for t in self.topics],
        }

    def to_text(self) -> str:
        lines = [f"signals: {self.signal_provenance}"]
        lines += [f"{'topic':<24}{'horizon':>9}{'src':>8}{'n':>7}{'hit%':>8}{'p':>9}{'CI':>16}{'up n/hit%':>14}"
                 f"{'down n/hit%':>14}{'mse':>12}"]
        for t in self.topics:
            o = t.overall

            def pct(v: float | None) -> str:
                return "-" if v is None else f"{100 * v:.1f}"

            ci = "-" if o.ci_low is None else f"{pct(o.ci_low)}-{pct(o.ci_high)}"
            p = "-" if o.p_value is None else f"{o.p_value:.3g}"
            mse = "-" if t.mse is None else f"{t.mse:.3g}"
            lines.append(f"{t.topic:<24}{t.horizon_seconds:>9}{t.source:>8}{o.n:>7}{pct(o.hit_rate):>8}{p:>9}{ci:>16}"
                         f"{f'{t.up.n}/{pct(t.up.hit_rate)}':>14}{f'{t.down.n}/{pct(t.down.hit_rate)}':>14}{mse:>12}")
        return "\n".join(lines)


# --- inputs ---------------------------------------------------------------------------------------------------------


def _to_unix(col: pd.Series, *, ceil: bool) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        if getattr(col.dt, "tz", None) is None:
            col = col.dt.tz_localize("UTC")
        ns = col.dt.tz_convert("UTC").dt.as_unit("ns").astype("int64")
        secs = -(-ns // 10**9) if ceil else ns // 10**9
        return secs.astype("int64")
    values = pd.to_numeric(col, errors="raise").astype("float64")
    return (np.ceil(values) if ceil else np.floor(values)).astype("int64")


_DIRECTION_WORDS = {"up": 1, "bull": 1, "long": 1, "down": -1, "bear": -1, "short": -1, "flat": 0, "none": 0}


def _parse_direction(value: Any) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _DIRECTION_WORDS:
            return float(_DIRECTION_WORDS[key])
        value = float(key)
    return float(np.sign(float(value)))


def rounds_frame(rows: Iterable[Any]) -> pd.DataFrame:
    """RoundOutcome rows -> DataFrame with float prices (``raw / 10**price_decimals``)."""
    records = [
        {
            "market": r.market,
            "epoch": r.epoch,
            "lock_ts": r.lock_ts,
            "close_ts": r.close_ts,
            "lock_price": r.lock_price / 10**r.price_decimals,
            "close_price": r.close_price / 10**r.price_decimals,
            "final": bool(r.final),
            "status": r.status,
        }
        for r in rows
    ]
    columns = ["market", "epoch", "lock_ts", "close_ts", "lock_price", "close_price", "final", "status"]
    return pd.DataFrame.from_records(records, columns=columns)


def load_rounds(session: Any, markets: Sequence[str] | None = None) -> pd.DataFrame:
    """All final rounds (optionally of ``markets``) from the bot DB, as :func:`rounds_frame`."""
    from sqlalchemy import select

    from bot.store.outcomes import RoundOutcome

    query = select(RoundOutcome).where(RoundOutcome.final.is_(True))
    if markets:
        query = query.where(RoundOutcome.market.in_(list(markets)))
    return rounds_frame(session.scalars(query.order_by(RoundOutcome.lock_ts)).all())


def load_inferences(session: Any, topic_ids: Sequence[int] | None = None, *, source_url: str | None = None) -> pd.DataFrame:
    """Accepted rows of the inference log (``bot.store.inferences.InferenceRecord``) as an ``inferences`` frame:
    ``topic`` (topic id as text), ``timestamp``, ``value`` (the network inference), ``source``, ``provenance``.

    ``timestamp`` is when the row became usable, by the one rule the backtest uses too
    (``bot.allora.logexport.available_at_ms``: the LATER of the inference's own timestamp and our fetch), rounded up
    to the second; rejected rows never count. ``provenance`` is ``allora`` or ``emulated`` (``source_url``: the
    configured Allora URL; a loopback URL or the emulator's signer means emulated). ``attrs["provenance"]`` is the
    report label.
    """
    from sqlalchemy import select

    from bot.allora.logexport import available_at_ms, emulator_signers, label_of, provenance_of
    from bot.store.inferences import InferenceRecord

    query = select(InferenceRecord).where(InferenceRecord.accepted.is_(True), InferenceRecord.value.is_not(None))
    if topic_ids:
        query = query.where(InferenceRecord.topic_id.in_(list(topic_ids)))
    emulators = emulator_signers()
    records = [
        {
            "topic": str(r.topic_id),
            "timestamp": -(-available_at_ms(r.timestamp, r.fetched_at_ms) // 1000),
            "value": float(r.value),
            "source": r.source,
            "provenance": provenance_of(source_url, r.signer, emulators),
        }
        for r in session.scalars(query.order_by(InferenceRecord.fetched_at_ms)).all()
    ]
    frame = pd.DataFrame.from_records(records, columns=["topic", "timestamp", "value", "source", "provenance"])
    frame.attrs["provenance"] = label_of(frame["provenance"])
    return frame


def round_topics_from_settings(settings: Any) -> dict[str, str]:
    """market name -> topic name, from ``markets[].topic``."""
    return {m.name: m.topic for m in settings.markets if m.topic}


def _normalize_rounds(rounds: pd.DataFrame | Iterable[Any]) -> pd.DataFrame:
    df = rounds.copy() if isinstance(rounds, pd.DataFrame) else rounds_frame(rounds)
    if "price_decimals" in df.columns:
        scale = 10.0 ** df["price_decimals"].astype("float64")
        df["lock_price"] = df["lock_price"].astype("float64") / scale
        df["close_price"] = df["close_price"].astype("float64") / scale
    df["lock_price"] = df["lock_price"].astype("float64")
    df["close_price"] = df["close_price"].astype("float64")
    if "final" in df.columns:
        df = df[df["final"].astype(bool)]
    if "status" in df.columns:
        df = df[df["status"] != "refundable"]
    df = df[(df["lock_price"] > 0) & (df["close_price"] > 0)]
    df = df.assign(lock_ts=_to_unix(df["lock_ts"], ceil=False), close_ts=_to_unix(df["close_ts"], ceil=False))
    return df.reset_index(drop=True)


def _normalize_prices(prices: pd.Series | pd.DataFrame) -> pd.DataFrame:
    if isinstance(prices, pd.DataFrame):
        ts_col = next((c for c in ("timestamp", "ts", "close_ts", "time") if c in prices.columns), None)
        px_col = next((c for c in ("price", "close") if c in prices.columns), None)
        if px_col is None:
            raise ValueError("price frame needs a 'price' or 'close' column")
        ts = prices[ts_col] if ts_col is not None else prices.index.to_series()
        frame = pd.DataFrame({"ts": _to_unix(pd.Series(ts.values), ceil=False), "price": prices[px_col].to_numpy()})
    else:
        frame = pd.DataFrame({"ts": _to_unix(prices.index.to_series().reset_index(drop=True), ceil=False),
                              "price": prices.to_numpy()})
    frame["price"] = frame["price"].astype("float64")
    frame = frame[np.isfinite(frame["price"]) & (frame["price"] > 0)]
    return frame.drop_duplicates("ts", keep="last").sort_values("ts").reset_index(drop=True)


# --- matching -------------------------------------------------------------------------------------------------------


def _match_rounds(inf: pd.DataFrame, rounds: pd.DataFrame, horizon: int, max_delay: int) -> pd.DataFrame:
    duration = rounds["close_ts"] - rounds["lock_ts"]
    usable = rounds[(duration - horizon).abs() <= max(0.1 * horizon, 30)]
    windows = usable.sort_values("lock_ts")[["lock_ts", "close_ts", "lock_price", "close_price"]].rename(
        columns={"lock_ts": "start_ts", "close_ts": "end_ts", "lock_price": "start_price", "close_price": "end_price"}
    )
    out = pd.merge_asof(inf.sort_values("ts"), windows, left_on="ts", right_on="start_ts", direction="forward",
                        tolerance=max_delay, allow_exact_matches=True)
    closes = rounds.sort_values("close_ts")[["close_ts", "close_price"]].rename(
        columns={"close_ts": "known_ts", "close_price": "known_price"})
    out = pd.merge_asof(out, closes, left_on="ts", right_on="known_ts", direction="backward")
    return out.drop(columns=["known_ts"])


def _match_prices(inf: pd.DataFrame, prices: pd.DataFrame, horizon: int, max_delay: int) -> pd.DataFrame:
    spacing = int(np.median(np.diff(prices["ts"].to_numpy()))) if len(prices) > 1 else 1
    starts = prices.rename(columns={"ts": "start_ts", "price": "start_price"})
    out = pd.merge_asof(inf.sort_values("ts"), starts, left_on="ts", right_on="start_ts", direction="forward",
                        tolerance=max_delay, allow_exact_matches=True)
    out["end_ts"] = np.nan
    out["end_price"] = np.nan
    has = out["start_ts"].notna()
    if has.any():
        part = out.loc[has, ["start_ts"]].copy()
        part["target"] = part["start_ts"].astype("int64") + horizon
        part["row"] = part.index
        ends = prices.rename(columns={"ts": "end_ts", "price": "end_price"})
        matched = pd.merge_asof(part.sort_values("target"), ends, left_on="target", right_on="end_ts",
                                direction="forward", tolerance=max(spacing, 1)).set_index("row")
        out.loc[matched.index, "end_ts"] = matched["end_ts"]
        out.loc[matched.index, "end_price"] = matched["end_price"]
    known = prices.rename(columns={"ts": "known_ts", "price": "known_price"})
    out = pd.merge_asof(out, known, left_on="ts", right_on="known_ts", direction="backward")
    return out.drop(columns=["known_ts"])


def _thin(scored: pd.DataFrame, dedupe: bool, non_overlapping: bool) -> pd.DataFrame:
    if dedupe:
        scored = scored.sort_values("ts").drop_duplicates("start_ts", keep="last")
    if non_overlapping and len(scored):
        keep, last_end = [], -math.inf
        for idx, start, end in zip(scored.index, scored["start_ts"], scored["end_ts"], strict=True):
            if start >= last_end:
                keep.append(idx)
                last_end = end
        scored = scored.loc[keep]
    return scored


# --- scoring --------------------------------------------------------------------------------------------------------


def _predictions(df: pd.DataFrame, kind: str) -> tuple[pd.Series, pd.Series]:
    """(predicted direction in {-1, 0, 1, NaN}, predicted log-return or NaN)."""
    direction = pd.Series(np.nan, index=df.index)
    pred_lr = pd.Series(np.nan, index=df.index)
    ref = df["reference_price"] if "reference_price" in df.columns else pd.Series(np.nan, index=df.index)
    ref = ref.astype("float64").fillna(df["known_price"])
    if "value" in df.columns:
        value = pd.to_numeric(df["value"], errors="coerce").astype("float64")
        if kind_of(kind).prices:
            with np.errstate(divide="ignore", invalid="ignore"):
                lr = np.log(value / ref)
            pred_lr = lr.where(np.isfinite(lr))
            direction = np.sign(value - ref)
        elif not kind_of(kind).multi_label:  # a log-return topic
            pred_lr = value.where(np.isfinite(value))
            direction = np.sign(pred_lr)
    if "p_up" in df.columns:
        p = pd.to_numeric(df["p_up"], errors="coerce").astype("float64")
        direction = direction.where(direction.notna(), np.sign(p - 0.5))
    if "direction" in df.columns:
        parsed = df["direction"].map(_parse_direction).astype("float64")
        direction = parsed.where(parsed.notna(), direction)
    return direction, pred_lr


def _score_topic(
    spec: TopicSpec,
    horizon: int,
    inf: pd.DataFrame,
    rounds: pd.DataFrame | None,
    prices: pd.DataFrame | None,
    *,
    max_delay: int | None,
    dedupe: bool,
    non_overlapping: bool,
    confidence: float,
    alternative: Alternative,
) -> TopicAccuracy:
    delay = horizon if max_delay is None else max_delay
    if rounds is not None and len(rounds):
        matched, source = _match_rounds(inf, rounds, horizon, delay), "rounds"
    elif prices is not None and len(prices):
        matched, source = _match_prices(inf, prices, horizon, delay), "prices"
    else:
        matched, source = inf.assign(start_ts=np.nan, end_ts=np.nan, start_price=np.nan, end_price=np.nan,
                                     known_price=np.nan), "none"
    pred_dir, pred_lr = _predictions(matched, spec.kind)
    matched = matched.assign(pred_dir=pred_dir, pred_lr=pred_lr)
    ok = matched["start_ts"].notna() & matched["end_price"].notna() & matched["pred_dir"].notna()
    scored = _thin(matched[ok], dedupe, non_overlapping)
    n_unmatched = int((~ok).sum())
    real_lr = np.log(scored["end_price"] / scored["start_price"])
    real_dir = np.sign(scored["end_price"] - scored["start_price"])
    abstain = scored["pred_dir"] == 0
    flat = (real_dir == 0) & ~abstain
    calls = scored[~abstain & ~flat]
    calls_real = real_dir[~abstain & ~flat]
    hit = calls["pred_dir"] == calls_real

    def stats(mask: pd.Series) -> HitStats:
        return HitStats.of(int(hit[mask].sum()), int(mask.sum()), confidence=confidence, alternative=alternative)

    lr_ok = scored["pred_lr"].notna()
    err = (scored.loc[lr_ok, "pred_lr"] - real_lr[lr_ok]).to_numpy()
    brier = None
    if "p_up" in scored.columns:
        p = pd.to_numeric(scored["p_up"], errors="coerce")
        b_ok = p.notna() & (real_dir != 0)
        if b_ok.any():
            brier = float(np.mean((p[b_ok] - (real_dir[b_ok] > 0).astype(float)) ** 2))
    return TopicAccuracy(
        topic=spec.name,
        topic_id=spec.topic_id,
        kind=spec.kind,
        horizon_seconds=horizon,
        source=source,
        n_inferences=len(inf),
        n_unmatched=n_unmatched,
        n_abstain=int(abstain.sum()),
        n_flat=int(flat.sum()),
        overall=stats(pd.Series(True, index=calls.index)),
        up=stats(calls["pred_dir"] > 0),
        down=stats(calls["pred_dir"] < 0),
        base_rate_up=float((calls_real > 0).mean()) if len(calls) else None,
        n_loss=len(err),
        mse=float(np.mean(err**2)) if len(err) else None,
        mae=float(np.mean(np.abs(err))) if len(err) else None,
        brier=brier,
    )


def _pick(mapping: Mapping[str, Any] | Any, spec: TopicSpec) -> Any:
    if not isinstance(mapping, Mapping):
        return mapping
    for key in (spec.name, str(spec.topic_id), spec.asset):
        if key in mapping:
            return mapping[key]
    return None


def score_accuracy(
    inferences: pd.DataFrame,
    *,
    topics: Sequence[Any],
    rounds: pd.DataFrame | Iterable[Any] | None = None,
    round_topics: Mapping[str, str] | None = None,
    prices: pd.Series | pd.DataFrame | Mapping[str, pd.Series | pd.DataFrame] | None = None,
    max_delay_seconds: int | None = None,
    dedupe: bool = True,
    non_overlapping: bool = False,
    confidence: float = 0.95,
    alternative: Alternative = "two-sided",
) -> AccuracyReport:
    """Score ``inferences`` per (topic, horizon); ``topics`` are ``TopicSpec`` or ``bot.config.TopicConfig`` items.

    ``round_topics`` maps market -> topic name for the rows of ``rounds`` (``None``: every round applies to every
    topic). See the module docstring for the exact alignment.
    """
    specs = as_specs(topics)
    by_key: dict[str, TopicSpec] = {}
    for spec in specs:
        by_key[spec.name] = spec
        by_key[str(spec.topic_id)] = spec
    missing = {"topic", "timestamp"} - set(inferences.columns)
    if missing:
        raise ValueError(f"inferences need columns {sorted(missing)}")
    if not {"direction", "p_up", "value"} & set(inferences.columns):
        raise ValueError("inferences need a prediction column: direction, p_up or value")
    inf = inferences.copy()
    inf["ts"] = _to_unix(inf["timestamp"], ceil=True)
    inf["topic"] = inf["topic"].astype(str)
    unknown = sorted(set(inf["topic"]) - set(by_key))
    if unknown:
        raise ValueError(f"inferences name unknown topics {unknown} (known: {sorted(by_key)})")
    all_rounds = None if rounds is None else _normalize_rounds(rounds)

    results: list[TopicAccuracy] = []
    for key, group in inf.groupby("topic", sort=True):
        spec = by_key[str(key)]
        horizons = (group["horizon_seconds"].fillna(spec.horizon_seconds).astype(int)
                    if "horizon_seconds" in group.columns else pd.Series(spec.horizon_seconds, index=group.index))
        topic_rounds = None
        if all_rounds is not None:
            if round_topics is None or "market" not in all_rounds.columns:
                topic_rounds = all_rounds
            else:
                markets = [m for m, t in round_topics.items() if t in (spec.name, str(spec.topic_id))]
                topic_rounds = all_rounds[all_rounds["market"].isin(markets)]
        raw_prices = None if prices is None else _pick(prices, spec)
        topic_prices = None if raw_prices is None else _normalize_prices(raw_prices)
        for horizon, part in group.groupby(horizons, sort=True):
            results.append(_score_topic(
                spec, int(horizon), part.drop(columns=["horizon_seconds"], errors="ignore"), topic_rounds,
                topic_prices, max_delay=max_delay_seconds, dedupe=dedupe, non_overlapping=non_overlapping,
                confidence=confidence, alternative=alternative,
            ))
    provenance = str(inferences.attrs.get("provenance", "user file (unverified)"))
    return AccuracyReport(results, confidence, alternative, signal_provenance=provenance)
