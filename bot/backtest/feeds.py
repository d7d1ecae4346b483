"""Price candles: download over ccxt with an on-disk resumable cache, load CSV files, report gaps.

Candle frames have the columns ``open_time_ms`` (int64, bar open in unix ms, UTC) and ``open, high, low, close,
volume`` (float64), sorted by time with unique bars — the shape of ``bot/data/BTCUSDT_5m_*.csv.gz``. A bar's close is
*known* at ``open_time + timeframe`` (``candle_known_at``); the backtest never uses a bar before that.

Gaps (missing bars: exchange outages, holes in an archive) are reported by ``detect_gaps`` and never interpolated.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import os
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.errors import InputError, TemporaryError, one_line

CANDLE_COLUMNS: tuple[str, ...] = ("open_time_ms", "open", "high", "low", "close", "volume")
TIMEFRAME_SECONDS: dict[str, int] = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14_400,
    "6h": 21_600,
    "8h": 28_800,
    "12h": 43_200,
    "1d": 86_400,
    "3d": 259_200,
    "1w": 604_800,
}
_TF_RE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
PYARROW_AVAILABLE = importlib.util.find_spec("pyarrow") is not None


class FeedError(InputError):
    """Candles could not be loaded: a bad file, timeframe, symbol or range (the user's to fix)."""


class FeedUnavailableError(FeedError, TemporaryError):
    """The exchange could not be reached (network down, timeouts, rate limits after the retries): try again later."""


def timeframe_seconds(timeframe: str) -> int:
    """``"5m"`` -> 300. Accepts any ``<n><s|m|h|d|w>``."""
    match = _TF_RE.match(timeframe.strip())
    if not match:
        raise FeedError(f"bad timeframe {timeframe!r} (expected e.g. 1m, 5m, 1h, 1d)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def to_ms(value: int | float | str | datetime | pd.Timestamp | None) -> int | None:
    """Unix milliseconds from an int (ms), an ISO date/time string (UTC unless it says otherwise) or a datetime."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise FeedError(f"not a time: {value!r}")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float):
        return int(value)
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.value // 1_000_000)


def candle_known_at(candles: pd.DataFrame, timeframe_s: int) -> npt.NDArray[np.int64]:
    """Unix seconds at which each bar's close is known (bar open + timeframe)."""
    return np.asarray(candles["open_time_ms"].to_numpy(dtype=np.int64) // 1000 + timeframe_s, dtype=np.int64)


def normalise_candles(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the candle columns with their dtypes, sorted by time, duplicate bars dropped (first kept)."""
    missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
    if missing:
        raise FeedError(f"candles lack column(s) {', '.join(missing)} (expected {', '.join(CANDLE_COLUMNS)})")
    out = pd.DataFrame({"open_time_ms": frame["open_time_ms"].to_numpy(dtype=np.int64)})
    for col in CANDLE_COLUMNS[1:]:
        out[col] = frame[col].to_numpy(dtype=np.float64)
    out = out.sort_values("open_time_ms", kind="stable").drop_duplicates("open_time_ms", keep="first")
    return out.reset_index(drop=True)


def load_csv(path: str | Path) -> pd.DataFrame:
    """Candles from a CSV (or ``.csv.gz``) with an ``open_time_ms`` column (unix ms), like ``bot/data``'s files."""
    file = Path(path)
    if not file.is_file():
        raise FeedError(f"candle file not found: {file}")
    try:
        frame = pd.read_csv(file)
    except (ValueError, OSError, EOFError) as exc:
        raise FeedError(f"{file}: cannot read candles ({exc})") from None
    return normalise_candles(frame)


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing bars between two consecutive bars of a candle frame."""

    after_ms: int  # open time of the last bar before the gap
    before_ms: int  # open time of the first bar after the gap
    missing_bars: int

    @property
    def seconds(self) -> int:
        return (self.before_ms - self.after_ms) // 1000

    def describe(self) -> str:
        start = datetime.fromtimestamp(self.after_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        end = datetime.fromtimestamp(self.before_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        return f"{self.missing_bars} bar(s) missing between {start} and {end} UTC"


def detect_gaps(candles: pd.DataFrame, timeframe: str | int) -> list[Gap]:
    """Every place where consecutive bars are more than one timeframe apart (misaligned bars count as gaps too)."""
    tf_ms = (timeframe if isinstance(timeframe, int) else timeframe_seconds(timeframe)) * 1000
    times = candles["open_time_ms"].to_numpy(dtype=np.int64)
    if len(times) < 2:
        return []
    diffs = np.diff(times)
    where = np.flatnonzero(diffs != tf_ms)
    gaps = []
    for i in where:
        d = int(diffs[i])
        if d <= 0:
            raise FeedError(f"candles not sorted or duplicated at open_time_ms={int(times[i + 1])}")
        gaps.append(Gap(int(times[i]), int(times[i + 1]), max(-(-d // tf_ms) - 1, 1)))
    return gaps


# --- on-disk cache ----------------------------------------------------------------------------------------------------


class CandleStore(Protocol):
    path: Path

    def read(self) -> pd.DataFrame: ...

    def append(self, rows: list[list[float]]) -> None: ...


class GzipCsvStore:
    """Append-only gzip CSV: every page is one complete gzip member (readable with ``pandas.read_csv``).

    A member cut short by a crash mid-write is detected on read and trimmed off, so a resumed download continues
    from the last complete page.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> pd.DataFrame:
        if not self.path.exists():
            return _empty_candles()
        raw = self.path.read_bytes()
        text, good = _complete_members(raw)
        if good < len(raw):
            with open(self.path, "r+b") as fh:
                fh.truncate(good)
        if not text.strip():
            return _empty_candles()
        frame = pd.read_csv(io.StringIO(text))
        return normalise_candles(frame)

    def append(self, rows: list[list[float]]) -> None:
        if not rows:
            return
        header = not self.path.exists() or self.path.stat().st_size == 0
        buf = io.StringIO()
        if header:
            buf.write(",".join(CANDLE_COLUMNS) + "\n")
        for row in rows:
            buf.write(f"{int(row[0])}," + ",".join(repr(float(v)) for v in row[1:6]) + "\n")
        data = gzip.compress(buf.getvalue().encode(), mtime=0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def _complete_members(raw: bytes) -> tuple[str, int]:
    """Text of the complete gzip members of ``raw`` and the byte offset where the complete part ends."""
    parts: list[str] = []
    offset = 0
    while offset < len(raw):
        decomp = zlib.decompressobj(wbits=31)
        try:
            data = decomp.decompress(raw[offset:])
        except zlib.error:
            break
        if not decomp.eof:
            break  # truncated member
        parts.append(data.decode())
        offset = len(raw) - len(decomp.unused_data)
    return "".join(parts), offset


class ParquetStore:
    """A directory of parquet parts, one per page (written atomically); needs pyarrow."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> pd.DataFrame:
        parts = sorted(self.path.glob("part-*.parquet")) if self.path.is_dir() else []
        if not parts:
            return _empty_candles()
        return normalise_candles(pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True))

    def append(self, rows: list[list[float]]) -> None:
        if not rows:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame([r[:6] for r in rows], columns=list(CANDLE_COLUMNS))
        frame = normalise_candles(frame)
        name = self.path / f"part-{int(frame['open_time_ms'].iloc[0]):015d}.parquet"
        tmp = name.with_suffix(".tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, name)


def _empty_candles() -> pd.DataFrame:
    frame = pd.DataFrame({c: np.array([], dtype=np.int64 if c == "open_time_ms" else np.float64) for c in CANDLE_COLUMNS})
    return frame


def cache_path(cache_dir: str | Path, exchange_id: str, symbol: str, timeframe: str, fmt: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9]+", "-", symbol).strip("-")
    stem = f"{exchange_id}_{safe}_{timeframe}"
    return Path(cache_dir) / (f"{stem}.parquet.d" if fmt == "parquet" else f"{stem}.csv.gz")


def open_store(path: Path) -> CandleStore:
    if path.name.endswith(".parquet.d"):
        if not PYARROW_AVAILABLE:
            raise FeedError(f"{path}: parquet cache needs pyarrow")
        return ParquetStore(path)
    return GzipCsvStore(path)


# --- download ---------------------------------------------------------------------------------------------------------

ProgressCallback = Callable[[int, int], None]


def _make_exchange(exchange_id: str) -> Any:
    import ccxt

    cls = getattr(ccxt, exchange_id, None)
    if cls is None or not isinstance(cls, type):
        raise FeedError(f"unknown ccxt exchange {exchange_id!r}")
    from bot.wire import guard_ccxt

    return guard_ccxt(cls({"enableRateLimit": True}))  # every answer bounded before ccxt parses it


def _fetch_page(
    exchange: Any,
    symbol: str,
    timeframe: str,
    since: int,
    limit: int,
    max_retries: int,
    sleep: Callable[[float], None],
) -> list[list[float]]:
    """One ``fetch_ohlcv`` call, retried with backoff on network errors and rate limits (429/418)."""
    import ccxt

    attempt = 0
    while True:
        try:
            return list(exchange.fetch_ohlcv(symbol, timeframe, since=since, limit=limit))
        except ccxt.NetworkError as exc:  # includes DDoSProtection / RateLimitExceeded, timeouts, 5xx
            attempt += 1
            if attempt > max_retries:
                raise FeedUnavailableError(
                    f"{exchange.id} unreachable, gave up after {max_retries} retries: {one_line(exc)}"
                ) from exc
            base = max(float(getattr(exchange, "rateLimit", 1000) or 0) / 1000.0, 0.5)
            delay = min(base * 2 ** (attempt - 1), 60.0)
            headers = getattr(exchange, "last_response_headers", None) or {}
            retry_after = {str(k).lower(): v for k, v in dict(headers).items()}.get("retry-after")
            if retry_after is not None:
                try:
                    delay = max(delay, min(float(retry_after), 300.0))
                except ValueError:
                    pass
            sleep(delay)
        except ccxt.BaseError as exc:
            raise FeedError(f"{exchange.id}: fetch_ohlcv({symbol}, {timeframe}) failed: {one_line(exc)}") from exc


def download_ohlcv(
    exchange_id: str,
    symbol: str,
    timeframe: str,
    since: int | str | datetime,
    until: int | str | datetime | None,
    cache_dir: str | Path,
    progress: bool | ProgressCallback = True,
    exchange: Any = None,
    *,
    limit: int = 1000,
    max_retries: int = 5,
    cache_format: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> pd.DataFrame:
    """Candles ``[since, until)`` of ``symbol`` from any ccxt exchange, through a resumable on-disk cache.

    Pages with ``fetch_ohlcv(symbol, timeframe, since, limit)``; ccxt's own throttle spaces requests by
    ``exchange.rateLimit`` when ``exchange.enableRateLimit`` is set (it is for exchanges made here), and rate-limit or
    network errors are retried with exponential backoff (honouring ``Retry-After``). Each page is appended to the cache
    (``<cache_dir>/<exchange>_<symbol>_<timeframe>.csv.gz``, or a parquet directory when pyarrow is installed and
    ``cache_format`` is ``"parquet"``) before the next request, so an interrupted download resumes from the last
    cached bar. Only closed bars are cached. ``progress``: ``True`` for a rich progress bar, or a callable
    ``(bars_done, bars_total)`` called after every page (raising from it aborts the download, cache intact).
    ``until=None`` means now. Gaps are not filled: check ``detect_gaps`` on the result.
    """
    tf_s = timeframe_seconds(timeframe)
    tf_ms = tf_s * 1000
    since_ms = to_ms(since)
    assert since_ms is not None
    ex = exchange if exchange is not None else _make_exchange(exchange_id)
    now_ms = int(ex.milliseconds()) if hasattr(ex, "milliseconds") else int(time.time() * 1000)
    until_ms = to_ms(until) if until is not None else now_ms
    assert until_ms is not None
    if until_ms <= since_ms:
        raise FeedError(f"until ({until_ms}) must be after since ({since_ms})")
    if limit <= 0:
        raise FeedError("limit must be > 0")
    fmt = cache_format or "csv"
    if fmt not in ("csv", "parquet"):
        raise FeedError(f"cache_format must be csv or parquet, got {fmt!r}")
    store = open_store(cache_path(cache_dir, exchange_id, symbol, timeframe, fmt))
    cached = store.read()
    ranges = _missing_ranges(cached, since_ms, until_ms, tf_ms)
    total = max((until_ms - since_ms) // tf_ms, 1)
    done = total - sum((b - a) // tf_ms for a, b in ranges)

    bar = _ProgressBar(f"{exchange_id} {symbol} {timeframe}", total) if progress is True else None
    callback = progress if callable(progress) else None
    try:
        if bar:
            bar.update(done)
        for start, stop in ranges:
            cursor = start
            while cursor < stop:
                rows = _fetch_page(ex, symbol, timeframe, cursor, limit, max_retries, sleep)
                newest = max((int(r[0]) for r in rows), default=None)
                keep = [r for r in rows if cursor <= int(r[0]) < stop and int(r[0]) + tf_ms <= now_ms]
                store.append(sorted(keep, key=lambda r: int(r[0])))
                if newest is None or newest < cursor:
                    following = cursor + limit * tf_ms  # nothing at or after the cursor in this window: skip ahead
                elif newest + tf_ms > now_ms:
                    following = stop  # reached the bar still open: nothing more is closed
                else:
                    following = newest + tf_ms
                done += (min(following, stop) - cursor) // tf_ms
                cursor = following
                if bar:
                    bar.update(min(done, total))
                if callback:
                    callback(min(done, total), total)
    finally:
        if bar:
            bar.close()
    frame = store.read()
    times = frame["open_time_ms"].to_numpy()
    return frame.loc[(times >= since_ms) & (times < until_ms)].reset_index(drop=True)


def _missing_ranges(cached: pd.DataFrame, since_ms: int, until_ms: int, tf_ms: int) -> list[tuple[int, int]]:
    """The parts of ``[since, until)`` before the first and after the last cached bar."""
    if cached.empty:
        return [(since_ms, until_ms)]
    first = int(cached["open_time_ms"].iloc[0])
    last = int(cached["open_time_ms"].iloc[-1])
    ranges = []
    if since_ms < first:
        ranges.append((since_ms, min(first, until_ms)))
    if last + tf_ms < until_ms:
        ranges.append((max(last + tf_ms, since_ms), until_ms))
    return ranges


class _ProgressBar:
    def __init__(self, label: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(label, total=total)

    def update(self, done: int) -> None:
        self._progress.update(self._task, completed=done)

    def close(self) -> None:
        self._progress.stop()
