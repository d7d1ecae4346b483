"""Prediction-market adapters: one interface (``PredictionMarket``), one small dialect description per contract family."""

from bot.markets.base import PredictionMarket, TxRequest
from bot.markets.dialects import DIALECTS, DialectSpec, dialect_for

__all__ = ["DIALECTS", "DialectSpec", "PredictionMarket", "TxRequest", "dialect_for", "open_market"]


def open_market(w3, market_config, abi_dir=None):  # type: ignore[no-untyped-def]
    """Build the adapter for a configured market (``bot.config.MarketConfig``)."""
    from bot.markets.base import open_market as _open

    return _open(w3, market_config, abi_dir)
