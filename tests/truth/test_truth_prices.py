"""Exchange-feed fallback: a real ccxt exchange object pointed at a local klines route, and local price functions."""

import asyncio
from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest
from aiohttp import web

from bot.errors import TemporaryError
from bot.truth.blocktime import FixedBlockTimes
from bot.truth.groundtruth import GroundTruthResolver, NotFinalError, UnknownEpochError
from bot.truth.prices import (
    CcxtPriceSource,
    FunctionPriceSource,
    NoPriceError,
    PriceNotAvailableError,
    symbol_for_asset,
)
from bot.truth.service import ServerThread
from bot.truth.topics import TopicSpec
from tests.truth.truth_helpers import H0, T0, Clock, block_ts

GAP = (T0 + 3600, T0 + 7200)  # the exchange has no candles in this hour


def candle_close(open_s: int) -> float:
    return 60000.0 + (open_s - T0) / 60  # +1 per minute


@pytest.fixture
def klines():
    """Binance's GET /api/v3/klines on loopback (1m candles; the last one is still open at ``now``)."""
    state = {"now": T0 + 10_000, "requests": []}

    async def handler(request: web.Request) -> web.Response:
        q = request.query
        state["requests"].append(dict(q))
        assert q["symbol"] == "BTCUSDT" and q["interval"] == "1m"
        start = int(q["startTime"]) // 1000
        start -= start % 60
        rows = []
        for i in range(int(q.get("limit", 500))):
            open_s = start + 60 * i
            if open_s > state["now"]:
                break
            if GAP[0] <= open_s < GAP[1]:
                continue
            o = open_s * 1000
            c = f"{candle_close(open_s):.2f}"
            rows.append([o, "60000.00", "60100.00", "59900.00", c, "12.5", o + 59_999, "750000", 100, "6", "360000",
                         "0"])
        return web.json_response(rows)

    app = web.Application()
    app.router.add_get("/api/v3/klines", handler)
    server = ServerThread(app)
    state["url"] = server.start()
    yield state
    server.stop()


def binance(url: str) -> ccxt_async.binance:
    exchange = ccxt_async.binance({"enableRateLimit": False})
    exchange.urls["api"]["public"] = url + "/api/v3"
    exchange.set_markets([{  # what load_markets would have fetched from /api/v3/exchangeInfo
        "id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "baseId": "BTC", "quoteId": "USDT",
        "type": "spot", "spot": True, "margin": False, "swap": False, "future": False, "option": False,
        "contract": False, "linear": None, "inverse": None, "active": True,
        "precision": {"amount": 1e-5, "price": 0.01}, "limits": {}, "info": {},
    }])
    return exchange


def test_ccxt_candle_lookup(klines):
    clock = Clock(klines["now"])

    async def run() -> None:
        source = CcxtPriceSource(binance(klines["url"]), "BTC/USDT", clock=clock)
        try:
            assert source.label == "exchange:binance:BTC/USDT"
            # t on a minute boundary: the close of the candle [t-60, t)
            quote = await source.price_at(T0 + 600)
            assert (quote.price, quote.ts) == (Decimal(str(candle_close(T0 + 540))), T0 + 600)
            # t inside a minute: still the last candle that ENDED at or before t (no look-ahead)
            assert (await source.price_at(T0 + 659)).price == Decimal(str(candle_close(T0 + 540)))
            # just after the gap starts: the last candle before the gap is recent enough (<= 5 candles old)
            assert (await source.price_at(GAP[0] + 120)).ts == GAP[0]
            with pytest.raises(NoPriceError, match="gap in the exchange's history"):  # never: not "try later"
                await source.price_at(GAP[0] + 1800)
            clock.now = T0 + 9962  # 2 s after a candle boundary: that candle may still change on the exchange
            with pytest.raises(PriceNotAvailableError):
                await source.price_at(T0 + 9961)
            clock.now = T0 + 9966
            assert (await source.price_at(T0 + 9961)).ts == T0 + 9960
        finally:
            await source.aclose()

    asyncio.run(run())
    assert all(int(r["startTime"]) % 1000 == 0 for r in klines["requests"])


def test_resolver_uses_the_exchange_and_reports_its_source(klines):
    clock = Clock(klines["now"])
    topic = TopicSpec("btc-5m", 14, "log-return", 300, "BTC")
    times = FixedBlockTimes.linear(H0, T0, 5)

    async def run() -> None:
        source = CcxtPriceSource(binance(klines["url"]), "BTC/USDT", clock=clock)
        resolver = GroundTruthResolver([topic], times, prices={"btc": source}, clock=clock)
        try:
            truth = await resolver.resolve(14, H0 + 120, "BTC")  # anchor T0 + 600, target T0 + 900
            assert truth.source == "exchange:binance:BTC/USDT"
            assert truth.start_price == Decimal(str(candle_close(T0 + 540)))
            assert truth.end_price == Decimal(str(candle_close(T0 + 840)))
            assert truth.value > 0
            with pytest.raises(UnknownEpochError, match="gap"):  # the exchange gap: 404, a reputer moves on
                await resolver.resolve(14, H0 + (GAP[0] + 1800 - T0) // 5)
        finally:
            await resolver.aclose()

    asyncio.run(run())
    assert block_ts(H0 + 120) == T0 + 600


def test_function_price_source_none_means_not_final():
    clock = Clock(T0 + 10_000)
    topic = TopicSpec("btc-5m-price", 42, "price", 300, "BTC")

    async def run() -> None:
        source = FunctionPriceSource(lambda ts: None if ts > T0 + 1000 else 100 + ts - T0, "function:test")
        resolver = GroundTruthResolver([topic], FixedBlockTimes.linear(H0, T0, 5), prices={"BTC": source}, clock=clock)
        truth = await resolver.resolve(42, H0)
        assert (truth.value, truth.source) == (Decimal(400), "function:test")
        clock.now = T0 + 1400  # 100 s after the epoch's target: the price may still come
        with pytest.raises(NotFinalError) as early:
            await resolver.resolve(42, H0 + 200)
        assert early.value.http_status == 425 and early.value.retry_after
        clock.now = T0 + 1300 + 601  # past the grace: it never will (404, so a strict-order reputer moves on)
        with pytest.raises(UnknownEpochError, match="no price"):
            await resolver.resolve(42, H0 + 200)

        async def async_fn(ts: int) -> str:
            return "123.45"

        assert (await FunctionPriceSource(async_fn).price_at(5)).price == Decimal("123.45")
        with pytest.raises(TemporaryError):
            await FunctionPriceSource(lambda ts: -1).price_at(5)

    asyncio.run(run())


def test_symbol_for_asset():
    assert symbol_for_asset("eth", "BTC/USDT") == "ETH/USDT"
    assert symbol_for_asset("BTC", "BTC/USD") == "BTC/USD"
