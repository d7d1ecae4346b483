"""Candle feeds: the real ccxt.binance client against a loopback Binance, the resumable cache, CSV loading, gaps."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.backtest.feeds import (
    PYARROW_AVAILABLE,
    FeedError,
    GzipCsvStore,
    cache_path,
    detect_gaps,
    download_ohlcv,
    load_csv,
    timeframe_seconds,
)
from tests.backtest.fake_binance import FakeBinance

SHIPPED = Path(__file__).resolve().parents[2] / "bot" / "data" / "BTCUSDT_5m_2025-05_06.csv.gz"
FIVE_MIN = 300_000


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    frame = load_csv(SHIPPED).head(2400)
    # a real-looking hole: 7 bars missing (an exchange outage); the downloader must not invent them
    return frame.drop(index=range(1000, 1007)).reset_index(drop=True)


@pytest.fixture()
def server(candles: pd.DataFrame) -> Iterator[FakeBinance]:
    fake = FakeBinance(candles).start()
    yield fake
    fake.stop()


def span(candles: pd.DataFrame) -> tuple[int, int]:
    return int(candles["open_time_ms"].iloc[0]), int(candles["open_time_ms"].iloc[-1]) + FIVE_MIN


def download(server: FakeBinance, cache: Path, since: int, until: int, **kw: object) -> pd.DataFrame:
    kw.setdefault("progress", False)
    kw.setdefault("sleep", lambda s: None)
    return download_ohlcv(
        "binance", "BTC/USDT", "5m", since, until, cache, exchange=server.client(), limit=500, **kw  # type: ignore[arg-type]
    )


def test_paginated_download_equals_the_served_data(server: FakeBinance, candles: pd.DataFrame, tmp_path: Path) -> None:
    since, until = span(candles)
    got = download(server, tmp_path, since, until)
    pd.testing.assert_frame_equal(got, candles)
    # what ccxt.binance asks for when we only call fetch_ohlcv: the three exchangeInfo endpoints (load_markets), klines
    assert set(server.paths()) == {"/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo", "/api/v3/klines"}
    klines = [q for p, q, _ in server.requests if p == "/api/v3/klines"]
    assert len(klines) == 5  # 2393 bars in pages of 500
    assert all(q["limit"] == "500" and q["symbol"] == "BTCUSDT" and q["interval"] == "5m" for q in klines)
    # each page starts right after the last bar of the previous one (the gap is skipped, not filled)
    assert [int(q["startTime"]) for q in klines][0] == since
    # the gap is reported, never interpolated
    gaps = detect_gaps(got, "5m")
    assert len(gaps) == 1 and gaps[0].missing_bars == 7
    assert "7 bar(s) missing" in gaps[0].describe()


def test_requests_are_paced_by_rate_limit(candles: pd.DataFrame, tmp_path: Path) -> None:
    fake = FakeBinance(candles).start()
    try:
        since, until = span(candles)
        download_ohlcv(
            "binance", "BTC/USDT", "5m", since, until, tmp_path, progress=False,
            exchange=fake.client(rate_limit_ms=150), limit=500,
        )
        stamps = [t for p, _, t in fake.requests if p == "/api/v3/klines"]
        gaps = np.diff(stamps)
        # ccxt's throttle spaces calls by rateLimit x the endpoint's cost (binance weighs spot klines at 0.4)
        assert len(gaps) >= 4 and gaps.min() >= 0.8 * 0.150 * 0.4
    finally:
        fake.stop()


def test_rate_limit_429_is_retried_with_backoff(candles: pd.DataFrame, tmp_path: Path) -> None:
    fake = FakeBinance(candles, rate_limit_on_call=2).start()
    sleeps: list[float] = []
    try:
        since, until = span(candles)
        got = download(fake, tmp_path, since, until, sleep=sleeps.append)
        pd.testing.assert_frame_equal(got, candles)
        assert fake.klines_calls == 6  # one refused, retried
        assert len(sleeps) == 1 and sleeps[0] > 0
    finally:
        fake.stop()


def test_interrupted_download_resumes_from_the_last_cached_bar(
    server: FakeBinance, candles: pd.DataFrame, tmp_path: Path
) -> None:
    since, until = span(candles)
    straight = download(server, tmp_path / "straight", since, until)
    pages: list[tuple[int, int]] = []

    def kill_after_two_pages(done: int, total: int) -> None:
        pages.append((done, total))
        if len(pages) == 2:
            raise KeyboardInterrupt("killed mid-download")

    with pytest.raises(KeyboardInterrupt):
        download(server, tmp_path / "resumed", since, until, progress=kill_after_two_pages)
    store = GzipCsvStore(cache_path(tmp_path / "resumed", "binance", "BTC/USDT", "5m", "csv"))
    partial = store.read()
    assert len(partial) == 1000  # exactly the two pages fetched before the kill
    assert pages[-1][1] == (until - since) // FIVE_MIN

    server.requests.clear()
    resumed = download(server, tmp_path / "resumed", since, until)
    pd.testing.assert_frame_equal(resumed, straight)
    first = next(q for p, q, _ in server.requests if p == "/api/v3/klines")
    assert int(first["startTime"]) == int(partial["open_time_ms"].iloc[-1]) + FIVE_MIN  # restarted after the cache
    # a second call with everything cached makes no kline request at all
    server.requests.clear()
    again = download(server, tmp_path / "resumed", since, until)
    pd.testing.assert_frame_equal(again, straight)
    assert "/api/v3/klines" not in server.paths()


def test_truncated_cache_tail_is_trimmed(server: FakeBinance, candles: pd.DataFrame, tmp_path: Path) -> None:
    since, until = span(candles)
    download(server, tmp_path, since, since + 600 * FIVE_MIN)
    path = cache_path(tmp_path, "binance", "BTC/USDT", "5m", "csv")
    good_size = path.stat().st_size
    with open(path, "ab") as fh:  # a crash in the middle of writing the next page
        fh.write(gzip.compress(b"1746210000000,1,2,3,4,5\n" * 50)[:37])
    assert len(GzipCsvStore(path).read()) == 600
    assert path.stat().st_size == good_size
    # the file stays readable by pandas too
    assert len(pd.read_csv(path)) == 600


def test_window_inside_cache_and_extension_before_it(server: FakeBinance, candles: pd.DataFrame, tmp_path: Path) -> None:
    since, until = span(candles)
    middle = since + 1500 * FIVE_MIN
    download(server, tmp_path, middle, until)
    full = download(server, tmp_path, since, until)  # fetches only the missing head
    pd.testing.assert_frame_equal(full, candles)
    window = download(server, tmp_path, since + 10 * FIVE_MIN, since + 20 * FIVE_MIN)
    assert len(window) == 10


def test_bad_inputs() -> None:
    with pytest.raises(FeedError):
        download_ohlcv("binance", "BTC/USDT", "5m", 10, 5, "/tmp/x", progress=False, exchange=object())
    with pytest.raises(FeedError, match="unknown ccxt exchange"):
        download_ohlcv("not-an-exchange", "BTC/USDT", "5m", 0, 10, "/tmp/x", progress=False)
    with pytest.raises(FeedError, match="bad timeframe"):
        timeframe_seconds("5 minutes")
    assert timeframe_seconds("1h") == 3600 and timeframe_seconds("1w") == 604_800


def test_load_csv_shipped_slice() -> None:
    frame = load_csv(SHIPPED)
    assert len(frame) == 17_568
    assert list(frame.columns) == ["open_time_ms", "open", "high", "low", "close", "volume"]
    assert frame["open_time_ms"].is_monotonic_increasing
    assert detect_gaps(frame, "5m") == []


def test_load_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="not found"):
        load_csv(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("time,price\n1,2\n")
    with pytest.raises(FeedError, match="lack column"):
        load_csv(bad)


@pytest.mark.skipif(not PYARROW_AVAILABLE, reason="pyarrow not installed: parquet cache untested")
def test_parquet_cache(server: FakeBinance, candles: pd.DataFrame, tmp_path: Path) -> None:  # pragma: no cover
    since, until = span(candles)
    got = download(server, tmp_path, since, until, cache_format="parquet")
    pd.testing.assert_frame_equal(got, candles)
