"""Historical rounds for the backtest: real round files, RPC exports, or rounds built from price candles.

Every loader returns the same *rounds frame*, one row per round sorted by epoch:

==============  ===============  ==========================================================================
column          dtype            meaning
==============  ===============  ==========================================================================
epoch           int64            round epoch
start_ts        int64            unix seconds the round started (betting opens)
lock_ts         int64            unix seconds the round locks (betting closes)
close_ts        int64            unix seconds the round closes
lock_price      int64/object     raw integer price at lock (``attrs["price_decimals"]`` decimals)
close_price     int64/object     raw integer price at close
bull_wei        int64/object     final bull pool (object arrays of Python ints when an amount exceeds int64)
bear_wei        int64/object     final bear pool
oracle_called   bool             the round was executed; False = never executed, every stake refunded
start_price     int64/object     optional: price when the round started (the AI dialect's reference)
ai_price        int64/object     optional, AI dialect: the on-chain AI price stored when the round started
==============  ===============  ==========================================================================

``frame.attrs`` records ``source``, ``price_decimals``, ``timestamps`` (``"real"`` or ``"synthetic"``) and what a
loader dropped or found odd. Outcomes are labelled with the prices *of the feed the round settles on*: the real file's
oracle prices, or the candle feed rounds were built from (never another exchange's candles).

The RPC export format (what ``rounds export`` writes and ``load_rounds_export`` reads) is a CSV (optionally
``.csv.gz``) or ndjson file with the columns ``epoch, start_ts, lock_ts, close_ts, lock_price, close_price, bull_wei,
bear_wei, oracle_called`` and optionally ``start_price, ai_price``, plus ``price_decimals`` (one value for the file).
Integers are written as plain decimal digits (any size: wei amounts exceed 64 bits), ``oracle_called`` as
``true``/``false`` (``1``/``0`` accepted). ``write_rounds_export`` writes it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.backtest.contract_rounds import contract_frame, contract_problems, is_contract_record, parse_rows, read_records
from bot.backtest.exact import as_wei_array
from bot.backtest.feeds import TIMEFRAME_SECONDS, candle_known_at, timeframe_seconds
from bot.backtest.pools import DEFAULT_POOL_MODEL, PoolModel, fit_pool_model
from bot.errors import InputError

ROUND_COLUMNS: tuple[str, ...] = (
    "epoch",
    "start_ts",
    "lock_ts",
    "close_ts",
    "lock_price",
    "close_price",
    "bull_wei",
    "bear_wei",
    "oracle_called",
)
OPTIONAL_ROUND_COLUMNS: tuple[str, ...] = ("start_price", "ai_price")
_INT_COLUMNS = ("epoch", "start_ts", "lock_ts", "close_ts")
_WEI_COLUMNS = ("lock_price", "close_price", "bull_wei", "bear_wei", "start_price", "ai_price")


class RoundsError(InputError):
    """A rounds file or candle set could not be turned into rounds."""


# --- real PancakeSwap rounds (bot/data ndjson) ------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return fh.read()
    return path.read_text(encoding="utf-8")


def _ndjson_records(path: Path) -> list[dict[str, Any]]:
    records = []
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise RoundsError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
    return records


def load_pcs_rounds(
    path: str | Path, *, interval_seconds: int = 300, origin_ts: int = 0, price_decimals: int = 8
) -> pd.DataFrame:
    """Real PancakeSwap V2 rounds in the ndjson format of ``bot/data`` (fields ``epoch, lockPrice, closePrice,
    bullAmount, bearAmount, resultString``).

    The file has no timestamps: they are synthetic (``lock_ts = origin_ts + (epoch - first epoch) * interval``) and
    ``attrs["timestamps"] == "synthetic"``. Duplicate epochs keep their first line; a ``resultString`` that
    contradicts the prices (a rounded price hiding a winner) is a ``RoundsError`` naming the epochs.
    """
    file = Path(path)
    records = _ndjson_records(file)
    seen: dict[int, dict[str, Any]] = {}
    duplicates = 0
    for i, rec in enumerate(records):
        try:
            epoch = int(rec["epoch"])
            row = {
                "epoch": epoch,
                "lock_price": int(rec["lockPrice"]),
                "close_price": int(rec["closePrice"]),
                "bull_wei": int(rec["bullAmount"]),
                "bear_wei": int(rec["bearAmount"]),
                "result": str(rec.get("resultString", "")),
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise RoundsError(f"{file}: line {i + 1}: missing or bad field ({exc})") from None
        if epoch in seen:
            duplicates += 1
            continue
        seen[epoch] = row
    if not seen:
        raise RoundsError(f"{file}: no rounds")
    rows = [seen[e] for e in sorted(seen)]
    epochs = np.array([r["epoch"] for r in rows], dtype=np.int64)
    lock_ts = origin_ts + (epochs - epochs[0]) * interval_seconds
    frame = pd.DataFrame(
        {
            "epoch": epochs,
            "start_ts": lock_ts - interval_seconds,
            "lock_ts": lock_ts,
            "close_ts": lock_ts + interval_seconds,
            "lock_price": as_wei_array([r["lock_price"] for r in rows]),
            "close_price": as_wei_array([r["close_price"] for r in rows]),
            "bull_wei": as_wei_array([r["bull_wei"] for r in rows]),
            "bear_wei": as_wei_array([r["bear_wei"] for r in rows]),
            "oracle_called": np.ones(len(rows), dtype=bool),
        }
    )
    mismatches = []
    for r in rows:
        expected = "bull" if r["close_price"] > r["lock_price"] else "bear" if r["close_price"] < r["lock_price"] else "draw"
        if r["result"] and r["result"] != expected:
            mismatches.append(r["epoch"])
    if mismatches:
        named = ", ".join(str(e) for e in mismatches[:5]) + (f" and {len(mismatches) - 5} more" if len(mismatches) > 5 else "")
        raise RoundsError(
            f"{file}: resultString contradicts the prices (price precision lost?) in epoch {named}: refusing to settle "
            "rounds whose winner the file itself disputes"
        )
    frame.attrs.update(
        source=f"file:{file.name}",
        price_decimals=price_decimals,
        timestamps="synthetic",
        duplicate_epochs=duplicates,
        result_mismatches=0,
    )
    return frame


# --- RPC export format ------------------------------------------------------------------------------------------------


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _export_rows(path: Path) -> tuple[list[dict[str, Any]], int | None]:
    name = path.name.lower()
    decimals: int | None = None
    if name.endswith((".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")):
        rows = _ndjson_records(path)
    elif name.endswith((".csv", ".csv.gz")):
        rows = list(csv.DictReader(io.StringIO(_read_text(path))))
    else:
        raise RoundsError(f"{path}: unknown rounds export format (expected .csv, .csv.gz, .ndjson or .jsonl)")
    for row in rows:
        if row.get("price_decimals") not in (None, ""):
            decimals = int(row["price_decimals"])
            break
    return rows, decimals


def load_rounds_export(path: str | Path, *, price_decimals: int | None = None) -> pd.DataFrame:
    """Rounds exported over RPC (the format in the module docstring); real timestamps."""
    file = Path(path)
    rows, file_decimals = _export_rows(file)
    if not rows:
        raise RoundsError(f"{file}: no rounds")
    missing = [c for c in ROUND_COLUMNS if c not in rows[0]]
    if missing:
        raise RoundsError(f"{file}: missing column(s) {', '.join(missing)} (expected {', '.join(ROUND_COLUMNS)})")
    optional = [c for c in OPTIONAL_ROUND_COLUMNS if c in rows[0] and all(r.get(c) not in (None, "") for r in rows)]
    data: dict[str, Any] = {}
    try:
        for col in _INT_COLUMNS:
            data[col] = np.array([int(r[col]) for r in rows], dtype=np.int64)
        for col in ("lock_price", "close_price", "bull_wei", "bear_wei", *optional):
            data[col] = as_wei_array([int(r[col]) for r in rows])
        data["oracle_called"] = np.array([_parse_bool(r["oracle_called"]) for r in rows], dtype=bool)
    except OverflowError:
        raise RoundsError(f"{file}: an epoch or timestamp does not fit in 64 bits") from None
    except (TypeError, ValueError) as exc:
        raise RoundsError(f"{file}: bad value ({exc})") from None
    frame = pd.DataFrame(data).sort_values("epoch", kind="stable").reset_index(drop=True)
    problems = export_problems(frame)
    if problems:
        raise RoundsError(f"{file}: {len(problems)} kind(s) of inconsistent rounds — " + "; ".join(problems))
    decimals = price_decimals if price_decimals is not None else file_decimals if file_decimals is not None else 8
    frame.attrs.update(source=f"export:{file.name}", price_decimals=decimals, timestamps="real")
    return frame


def export_problems(frame: pd.DataFrame) -> list[str]:
    """Inconsistencies of an export frame, each naming up to 5 epochs: duplicate epochs, negative pools or prices,
    a close not after its lock, and executed rounds without a price (a refund mislabelled as executed)."""
    epochs = frame["epoch"].to_numpy()
    lock, close = frame["lock_price"].to_numpy(), frame["close_price"].to_numpy()
    executed = frame["oracle_called"].to_numpy(dtype=bool)
    checks = {
        "duplicate epoch": frame["epoch"].duplicated().to_numpy(),
        "negative pool": np.asarray((frame["bull_wei"].to_numpy() < 0) | (frame["bear_wei"].to_numpy() < 0), dtype=bool),
        "close_ts not after lock_ts": executed & (frame["close_ts"].to_numpy() <= frame["lock_ts"].to_numpy()),
        "executed (oracle_called) without a lock or close price": executed & np.asarray((lock <= 0) | (close <= 0), dtype=bool),
    }
    out = []
    for kind, bad in checks.items():
        if bad.any():
            named = [int(e) for e in epochs[bad][:5]]
            more = f" and {int(bad.sum()) - 5} more" if bad.sum() > 5 else ""
            out.append(f"{kind}: epoch {', '.join(map(str, named))}{more}")
    return out


def write_rounds_export(frame: pd.DataFrame, path: str | Path, *, price_decimals: int | None = None) -> Path:
    """Write ``frame`` in the RPC export format (CSV, ``.csv.gz`` or ndjson by extension)."""
    file = Path(path)
    cols = [*ROUND_COLUMNS, *[c for c in OPTIONAL_ROUND_COLUMNS if c in frame.columns]]
    decimals = price_decimals if price_decimals is not None else int(frame.attrs.get("price_decimals", 8))

    def records() -> Iterator[dict[str, Any]]:
        for values in zip(*(frame[c].tolist() for c in cols), strict=True):
            rec: dict[str, Any] = {c: (bool(v) if c == "oracle_called" else int(v)) for c, v in zip(cols, values, strict=True)}
            rec["price_decimals"] = decimals
            yield rec

    name = file.name.lower()
    if name.endswith((".ndjson", ".jsonl")):
        file.write_text("".join(json.dumps(r) + "\n" for r in records()), encoding="utf-8")
        return file
    if not name.endswith((".csv", ".csv.gz")):
        raise RoundsError(f"{file}: choose a .csv, .csv.gz, .ndjson or .jsonl name")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*cols, "price_decimals"], lineterminator="\n")
    writer.writeheader()
    for rec in records():
        writer.writerow({k: (str(v).lower() if isinstance(v, bool) else v) for k, v in rec.items()})
    data = buf.getvalue().encode()
    file.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    return file


def load_contract_rounds(path: str | Path, *, fee_bp: int = 300, price_decimals: int = 8) -> pd.DataFrame:
    """Rounds in the contract's field names (``bot.backtest.contract_rounds``), validated against the contract's
    bookkeeping with ``fee_bp``; any inconsistency is a ``RoundsError`` naming the epochs."""
    file = Path(path)
    try:
        rows = parse_rows(read_records(file, _read_text(file)))
    except ValueError as exc:
        raise RoundsError(f"{file}: {exc}") from None
    if not rows:
        raise RoundsError(f"{file}: no rounds")
    problems = contract_problems(rows, fee_bp)
    if problems:
        raise RoundsError(f"{file}: {len(problems)} kind(s) of inconsistent rounds — " + "; ".join(problems))
    try:
        frame = contract_frame(rows)
    except OverflowError:
        raise RoundsError(f"{file}: an epoch or timestamp does not fit in 64 bits") from None
    frame.attrs.update(
        source=f"contract:{file.name}",
        price_decimals=price_decimals,
        timestamps="real",
        never_executed=int((~frame["oracle_called"]).sum()),
    )
    return frame


def _first_keys(file: Path) -> set[str]:
    name = file.name.lower()
    text = _read_text(file)
    if name.endswith((".csv", ".csv.gz")):
        header = next(csv.reader(io.StringIO(text)), [])
        return {h.strip() for h in header}
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        doc = json.loads(first) if first else {}
    except json.JSONDecodeError:
        raise RoundsError(f"{file}: first line is not JSON") from None
    return set(doc) if isinstance(doc, dict) else set()


def load_rounds_file(path: str | Path, *, fee_bp: int = 300, **kwargs: Any) -> pd.DataFrame:
    """Load real rounds, by the fields of the first record: the contract's own names (``lockTimestamp``, ...), the
    PancakeSwap ndjson of ``bot/data`` (``lockPrice`` without timestamps) or an RPC export (snake_case)."""
    file = Path(path)
    if not file.is_file():
        raise RoundsError(f"rounds file not found: {file}")
    keys = _first_keys(file)
    if is_contract_record(sorted(keys)):
        return load_contract_rounds(file, fee_bp=fee_bp, price_decimals=int(kwargs.get("price_decimals", 8)))
    if "lockPrice" in keys:
        return load_pcs_rounds(file, **kwargs)
    return load_rounds_export(file, **{k: v for k, v in kwargs.items() if k == "price_decimals"})


# --- rounds built from candles ----------------------------------------------------------------------------------------


def prices_at(
    known_at: npt.NDArray[np.int64], closes: npt.NDArray[np.float64], times: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Last candle close known at or before each time, and its age in seconds (NaN price / -1 age: before the data)."""
    idx = np.searchsorted(known_at, times, side="right") - 1
    valid = idx >= 0
    safe = np.where(valid, idx, 0)
    price = np.where(valid, closes[safe], np.nan)
    age = np.where(valid, times - known_at[safe], -1)
    return price, age


def build_rounds(
    candles: pd.DataFrame,
    *,
    timeframe: str | None = None,
    interval_seconds: int = 300,
    delay_seconds: int = 0,
    pool_model: PoolModel | None = None,
    seed: int = 0,
    price_decimals: int = 8,
    missed_execution_rate: float = 0.0,
    ai_forecaster: Any = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Rounds replayed over a candle feed, following the contract's lifecycle.

    ``executeRound`` runs ``delay_seconds`` after each lock and reads one price that locks round n and closes round
    n-1, then starts n+1 with ``lock = execution + interval`` (and rewrites ``close[n]`` to the same time); so rounds
    are ``interval + delay`` seconds apart, the close price is read ``delay`` after ``close_ts`` and
    ``lock_price[n+1] == close_price[n]``, as on mainnet. The oracle price at time t is the close of the last candle
    that had closed by t (use 1-minute candles when modelling a delay: with 5-minute candles the price can be up to
    5 minutes old). Rounds whose lock or close price would come from a stale candle (a gap in the feed) are dropped
    and counted in ``attrs["dropped_gap_rounds"]`` — never interpolated.

    Pools come from ``pool_model`` (default: fitted to the shipped real rounds), seeded by ``seed``;
    ``missed_execution_rate`` marks that share of rounds as never executed (refunds). ``ai_forecaster`` (AI dialect)
    sets ``ai_price`` from a forecast made with the prices known at each round's start.
    """
    tf = timeframe_seconds(timeframe) if timeframe else _infer_timeframe(candles)
    if len(candles) < 3:
        raise RoundsError("build_rounds needs at least 3 candles")
    if interval_seconds <= 0 or delay_seconds < 0:
        raise RoundsError("interval_seconds must be > 0 and delay_seconds >= 0")
    if not 0 <= missed_execution_rate < 1:
        raise RoundsError("missed_execution_rate must be in [0, 1)")
    known_at = candle_known_at(candles, tf)
    closes = candles["close"].to_numpy(dtype=np.float64)
    step = interval_seconds + delay_seconds
    first_lock = int(known_at[0]) + interval_seconds  # round 0 starts at the first known price
    last_exec = int(known_at[-1])
    # execution n happens at lock_n + delay; round n needs executions n and n+1
    n_rounds = (last_exec - (first_lock + delay_seconds)) // step  # executions 0..n_rounds exist
    if n_rounds < 1:
        raise RoundsError("candles too short for one round")
    k = np.arange(n_rounds + 1, dtype=np.int64)
    execs = first_lock + delay_seconds + k * step
    price, age = prices_at(known_at, closes, execs)
    fresh = (age >= 0) & (age < tf)
    lock_ts = execs[:-1] - delay_seconds
    ok = fresh[:-1] & fresh[1:]
    scale = 10.0**price_decimals
    raw = np.round(price * scale)
    if np.nanmax(raw) >= 2.0**63:
        raise RoundsError("prices too large for int64 at this price_decimals")
    raw_i = np.where(np.isfinite(raw), raw, 0).astype(np.int64)
    rng = np.random.default_rng(seed)
    lock_raw, close_raw = raw_i[:-1], raw_i[1:]
    move = np.where(close_raw > lock_raw, 0, np.where(close_raw < lock_raw, 1, 2)).astype(np.int8)
    bull, bear = (pool_model or DEFAULT_POOL_MODEL).sample(n_rounds, rng, move)
    called = rng.random(n_rounds) >= missed_execution_rate
    start_ts = lock_ts - interval_seconds
    start_price_f, start_age = prices_at(known_at, closes, start_ts)
    start_price = np.where(np.isfinite(start_price_f), np.round(start_price_f * scale), 0).astype(np.int64)
    frame = pd.DataFrame(
        {
            "epoch": k[:-1] + 1,
            "start_ts": start_ts,
            "lock_ts": lock_ts,
            "close_ts": execs[:-1] + interval_seconds,  # what executeRound stores; the close price is read `delay` later
            "lock_price": raw_i[:-1],
            "close_price": raw_i[1:],
            "bull_wei": bull,
            "bear_wei": bear,
            "oracle_called": called,
            "start_price": start_price,
        }
    )
    if ai_forecaster is not None:
        from bot.backtest.inferences import forecast_at

        pred, _ = forecast_at(ai_forecaster, known_at, closes, start_ts, tf)
        ai = np.round(start_price_f * np.exp(pred) * scale)
        frame["ai_price"] = np.where(np.isfinite(ai), ai, 0).astype(np.int64)
        ok &= np.isfinite(ai)
    ok &= (start_age >= 0) & np.isfinite(start_price_f)
    dropped = int((~ok).sum())
    frame = frame.loc[ok].reset_index(drop=True)
    frame.attrs.update(
        source=source or "candles",
        price_decimals=price_decimals,
        timestamps="real",
        timeframe_seconds=tf,
        interval_seconds=interval_seconds,
        delay_seconds=delay_seconds,
        dropped_gap_rounds=dropped,
        pool_model=(pool_model or DEFAULT_POOL_MODEL).to_dict(),
        seed=seed,
    )
    return frame


def _infer_timeframe(candles: pd.DataFrame) -> int:
    times = candles["open_time_ms"].to_numpy(dtype=np.int64)
    if len(times) < 2:
        raise RoundsError("cannot infer the candle timeframe from fewer than 2 candles: pass timeframe")
    step_ms = int(np.median(np.diff(times)))
    step = step_ms // 1000
    if step_ms % 1000 or step <= 0:
        raise RoundsError(f"cannot infer the candle timeframe (median spacing {step_ms} ms): pass timeframe")
    if step not in TIMEFRAME_SECONDS.values():
        raise RoundsError(f"unusual candle spacing {step} s: pass timeframe")
    return step


def outcome_labels(frame: pd.DataFrame) -> npt.NDArray[np.int8]:
    """V2 outcome per round: 0 bull won, 1 bear won, 2 draw (house), 3 never executed (refund)."""
    lock = frame["lock_price"].to_numpy()
    close = frame["close_price"].to_numpy()
    up = np.asarray(close > lock, dtype=bool)
    down = np.asarray(close < lock, dtype=bool)
    out = np.where(up, 0, np.where(down, 1, 2)).astype(np.int8)
    out[~frame["oracle_called"].to_numpy(dtype=bool)] = 3
    return out


def validate_rounds(frame: pd.DataFrame) -> None:
    """Raise ``RoundsError`` unless ``frame`` has the rounds-frame columns, sorted unique epochs and sane pools."""
    missing = [c for c in ROUND_COLUMNS if c not in frame.columns]
    if missing:
        raise RoundsError(f"rounds frame lacks column(s) {', '.join(missing)}")
    epochs = frame["epoch"].to_numpy()
    if len(epochs) and not bool(np.all(np.diff(epochs) > 0)):
        raise RoundsError("rounds must be sorted by epoch with unique epochs")
    for col in ("bull_wei", "bear_wei"):
        values = frame[col].to_numpy()
        if values.dtype not in (np.int64, object):
            raise RoundsError(f"{col} must be int64 or object (Python ints), got {values.dtype}")
        if len(values) and values.min() < 0:  # works for int64 and object arrays
            raise RoundsError(f"{col} has negative amounts")


__all__ = [
    "DEFAULT_POOL_MODEL",
    "OPTIONAL_ROUND_COLUMNS",
    "ROUND_COLUMNS",
    "PoolModel",
    "RoundsError",
    "build_rounds",
    "fit_pool_model",
    "load_contract_rounds",
    "load_pcs_rounds",
    "load_rounds_export",
    "load_rounds_file",
    "outcome_labels",
    "prices_at",
    "validate_rounds",
    "write_rounds_export",
]
