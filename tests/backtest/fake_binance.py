"""A loopback stand-in for the Binance REST endpoints ccxt.binance touches when only ``fetch_ohlcv`` is called.

``load_markets`` (called by ``fetch_ohlcv``) asks for ``GET /api/v3/exchangeInfo`` (spot), ``/fapi/v1/exchangeInfo``
(USD-M) and ``/dapi/v1/exchangeInfo`` (COIN-M); then ``GET /api/v3/klines?symbol&interval&startTime&limit``. Nothing
else is requested without API keys. Every request is recorded; klines can answer 429 once (with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from aiohttp import web

SPOT_SYMBOL = {
    "symbol": "BTCUSDT",
    "status": "TRADING",
    "baseAsset": "BTC",
    "baseAssetPrecision": 8,
    "quoteAsset": "USDT",
    "quotePrecision": 8,
    "quoteAssetPrecision": 8,
    "orderTypes": ["LIMIT", "MARKET"],
    "icebergAllowed": True,
    "ocoAllowed": True,
    "isSpotTradingAllowed": True,
    "isMarginTradingAllowed": False,
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000.00", "tickSize": "0.01"},
        {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000.0", "stepSize": "0.00001"},
    ],
    "permissions": ["SPOT"],
    "permissionSets": [["SPOT"]],
}


@dataclass
class FakeBinance:
    candles: pd.DataFrame  # open_time_ms, open, high, low, close, volume
    rate_limit_on_call: int | None = None  # answer 429 to this klines call (1-based), once
    requests: list[tuple[str, dict[str, str], float]] = field(default_factory=list)
    klines_calls: int = 0
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    async def _exchange_info(self, request: web.Request) -> web.Response:
        symbols = [SPOT_SYMBOL] if request.path.startswith("/api/") else []
        return web.json_response({"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [], "symbols": symbols})

    async def _klines(self, request: web.Request) -> web.Response:
        self.klines_calls += 1
        if self.rate_limit_on_call is not None and self.klines_calls == self.rate_limit_on_call:
            return web.json_response({"code": -1003, "msg": "Too many requests."}, status=429, headers={"Retry-After": "0"})
        q = request.query
        start = int(q.get("startTime", 0))
        end = int(q["endTime"]) if "endTime" in q else None
        limit = min(int(q.get("limit", 500)), 1000)
        frame = self.candles[self.candles["open_time_ms"] >= start]
        if end is not None:
            frame = frame[frame["open_time_ms"] <= end]
        frame = frame.head(limit)
        rows: list[list[Any]] = [
            [int(r.open_time_ms), str(r.open), str(r.high), str(r.low), str(r.close), str(r.volume),
             int(r.open_time_ms) + 299_999, "0", 1, "0", "0", "0"]
            for r in frame.itertuples()
        ]
        return web.json_response(rows)

    async def _other(self, request: web.Request) -> web.Response:
        return web.json_response({"code": -1, "msg": f"not served: {request.path}"}, status=404)

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.query), time.monotonic()))
        return await handler(request)

    def start(self) -> FakeBinance:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/api/v3/exchangeInfo", self._exchange_info)
        app.router.add_get("/fapi/v1/exchangeInfo", self._exchange_info)
        app.router.add_get("/dapi/v1/exchangeInfo", self._exchange_info)
        app.router.add_get("/api/v3/klines", self._klines)
        app.router.add_route("*", "/{tail:.*}", self._other)
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.base_url = f"http://127.0.0.1:{port}"
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    def client(self, rate_limit_ms: int = 20) -> Any:
        """A real ``ccxt.binance`` whose every API URL points at this server."""
        import ccxt

        exchange = ccxt.binance({"enableRateLimit": True, "rateLimit": rate_limit_ms})  # the throttle reads it at init
        for key, url in list(exchange.urls["api"].items()):
            if isinstance(url, str) and url.startswith("https://"):
                path = "/" + url.split("://", 1)[1].split("/", 1)[1]
                exchange.urls["api"][key] = self.base_url + path
        return exchange

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.requests]
