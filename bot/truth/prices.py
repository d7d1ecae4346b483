"""Price at a point in time, for ground truth that no prediction round lines up with.

The price at time ``t`` is the close of the last complete candle that ended at or before ``t`` (for 1-minute candles:
the close of ``[floor_min(t) - 60, floor_min(t))``). That candle is final as soon as ``t`` has passed, so the value
never changes once served, and it never looks past ``t``. A candle older than ``max_staleness_seconds`` (an exchange
outage) is refused rather than used.

Sources implement :class:`PriceSource` (``async price_at(ts) -> PriceQuote``):

- :class:`CcxtPriceSource`: a ccxt (``ccxt.async_support``) exchange's OHLCV candles;
- :class:`FunctionPriceSource`: any ``ts -> price | None`` function (sync or async) — local series, tests, replays.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, runtime_checkable

from bot.errors import BotError, TemporaryError


class PriceNotAvailableError(BotError):
    """No final price for this time yet (the time has not passed, or the exchange has not published the candle)."""


class NoPriceError(BotError):
    """The source will never have a price for this time (a gap in the exchange's history well after the fact)."""


@dataclass(frozen=True, slots=True)
class PriceQuote:
    price: Decimal
    ts: int  # the time the price is for (candle close), unix seconds
    source: str  # e.g. exchange:binance:BTC/USDT


@runtime_checkable
class PriceSource(Protocol):
    label: str

    async def price_at(self, ts: int) -> PriceQuote: ...


def to_price(value: Any) -> Decimal:
    try:
        dec = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise TemporaryError(f"price feed returned a non-number: {value!r}") from None
    if not dec.is_finite() or dec <= 0:
        raise TemporaryError(f"price feed returned an invalid price: {value!r}")
    return dec


class FunctionPriceSource:
    """Wraps ``fn(ts) -> price | None`` (sync or async). ``None`` means "not available yet"."""

    def __init__(
        self, fn: Callable[[int], Any] | Callable[[int], Awaitable[Any]], label: str = "function:local"
    ) -> None:
        self._fn = fn
        self.label = label

    async def price_at(self, ts: int) -> PriceQuote:
        out = self._fn(ts)
        if inspect.isawaitable(out):
            out = await out
        if out is None:
            raise PriceNotAvailableError(f"{self.label}: no price for {ts}")
        return PriceQuote(to_price(out), ts, self.label)


TIMEFRAME_SECONDS = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400}


class CcxtPriceSource:
    """Candle lookup on a ccxt async exchange object (``ccxt.async_support.<id>``), e.g. binance ``BTC/USDT``.

    ``exchange`` is any object with ``async fetch_ohlcv(symbol, timeframe, since_ms, limit)`` returning
    ``[[open_ms, open, high, low, close, volume], ...]``; its ``id`` names the source.
    """

    def __init__(
        self,
        exchange: Any,
        symbol: str,
        *,
        timeframe: str = "1m",
        max_staleness_seconds: int | None = None,
        settle_seconds: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if timeframe not in TIMEFRAME_SECONDS:
            raise ValueError(f"unsupported timeframe {timeframe!r} (one of {', '.join(TIMEFRAME_SECONDS)})")
        self.exchange = exchange
        self.symbol = symbol
        self.timeframe = timeframe
        self.tf = TIMEFRAME_SECONDS[timeframe]
        self.max_staleness = self.tf * 5 if max_staleness_seconds is None else max_staleness_seconds
        self.settle_seconds = settle_seconds
        self.clock = clock
        self.label = f"exchange:{getattr(exchange, 'id', 'ccxt')}:{symbol}"

    async def price_at(self, ts: int) -> PriceQuote:
        boundary = ts - ts % self.tf  # the last candle boundary at or before ts
        if self.clock() < boundary + self.settle_seconds:
            raise PriceNotAvailableError(f"{self.label}: candle ending {boundary} not final yet")
        lookback = max(self.max_staleness, self.tf)
        since = boundary - lookback
        limit = lookback // self.tf + 1
        try:
            rows = await self.exchange.fetch_ohlcv(self.symbol, self.timeframe, since * 1000, limit)
        except Exception as exc:  # ccxt NetworkError / ExchangeError at the adapter edge
            raise TemporaryError(f"{self.label}: fetch_ohlcv failed: {type(exc).__name__}: {exc}") from exc
        best: tuple[int, Any] | None = None
        for row in rows or []:
            open_s = int(row[0]) // 1000
            end = open_s + self.tf
            if end <= ts and (best is None or end > best[0]):
                best = (end, row[4])
        if best is None or ts - best[0] > self.max_staleness:
            if self.clock() < boundary + self.settle_seconds + 60:
                raise PriceNotAvailableError(f"{self.label}: no candle ending at or before {ts} yet")
            raise NoPriceError(f"{self.label}: no candle within {self.max_staleness}s before {ts} (a gap in the "
                               "exchange's history)")
        return PriceQuote(to_price(best[1]), best[0], self.label)

    async def aclose(self) -> None:
        closer = getattr(self.exchange, "close", None)
        if closer is not None:
            out = closer()
            if inspect.isawaitable(out):
                await out


def symbol_for_asset(asset: str, template_symbol: str) -> str:
    """``BTC/USDT`` with asset ``ETH`` -> ``ETH/USDT`` (the quote currency of the configured symbol is kept)."""
    _, _, quote = template_symbol.partition("/")
    return f"{asset.upper()}/{quote or 'USDT'}"


def make_ccxt_sources(
    exchange_id: str, template_symbol: str, assets: set[str], **kwargs: Any
) -> dict[str, CcxtPriceSource]:
    """One shared ``ccxt.async_support`` exchange; one :class:`CcxtPriceSource` per asset (keyed upper-case)."""
    import ccxt.async_support as ccxt_async

    factory = getattr(ccxt_async, exchange_id, None)
    if factory is None:
        raise ValueError(f"unknown ccxt exchange {exchange_id!r}")
    from bot.wire import guard_ccxt

    exchange = guard_ccxt(factory({"enableRateLimit": True}))  # every answer bounded before ccxt parses it
    return {a.upper(): CcxtPriceSource(exchange, symbol_for_asset(a, template_symbol), **kwargs) for a in assets}
