"""Amounts as people read them: exact wei <-> coin text, by the market's coin (symbol and decimals from the config).

- ``format_units(wei, decimals)``: exact decimal text of ``wei / 10**decimals`` (integer arithmetic, never a float),
  trailing zeros dropped (``1500000000000000000`` at 18 decimals -> ``"1.5"``; ``1`` -> ``"0.000000000000000001"``).
- ``parse_units(text, decimals)``: the user's coin text -> wei, exactly. The one rule: ASCII digits with an optional
  fraction (``0.01``, ``.5``, ``2``) or an exact wei count (``10000000000000000wei``); a fraction with more digits than
  the coin has decimals is refused (never rounded), as are signs, exponents, separators and other scripts' digits.
  A refusal is an ``InputError`` (one line, exit 2).
- ``Coin``: a symbol and its decimals; ``coin_of(settings, market)`` picks the market's: the chain's native coin (18
  decimals: BNB, ETH) or, for ERC-20 markets, the stake token (``markets[].token_symbol`` / ``token_decimals``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.errors import InputError

if TYPE_CHECKING:
    from bot.config import Settings

AMOUNT_MAX_DIGITS = 40  # integer digits of an amount in coin units or wei: more is a typo, not a stake
_COIN_TEXT = re.compile(r"([0-9]+)(?:\.([0-9]+))?|\.([0-9]+)")
_WEI_TEXT = re.compile(r"([0-9]+)\s*wei")


def format_units(wei: int, decimals: int) -> str:
    """Exact decimal text of ``wei`` in units of ``10**decimals`` (sign kept, trailing zeros dropped)."""
    if isinstance(wei, bool) or not isinstance(wei, int):
        raise TypeError(f"wei must be int, got {type(wei).__name__}")
    if decimals < 0:
        raise ValueError("decimals must be >= 0")
    sign = "-" if wei < 0 else ""
    whole, fraction = divmod(abs(wei), 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0") if decimals else ""
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def to_decimal(wei: int, decimals: int) -> Decimal:
    """``wei / 10**decimals`` as an exact ``Decimal`` (for JSON consumers that want a number-like value)."""
    return Decimal(format_units(wei, decimals))


def parse_units(text: str, decimals: int, *, allow_zero: bool = False) -> int:
    """Coin text (``0.01``) or exact wei (``10000000000000000wei``) -> wei; ``InputError`` on anything else."""
    raw = text.strip().lower()
    shown = text if len(text) <= 48 else text[:45] + "..."
    if raw.startswith("-") and raw[1:2].isascii() and (raw[1:2].isdigit() or raw[1:2] == "."):
        raise InputError(f"amount must be positive, got {shown!r}")
    wei = _WEI_TEXT.fullmatch(raw) if raw.isascii() else None
    coin = _COIN_TEXT.fullmatch(raw) if raw.isascii() and wei is None else None
    if wei is None and coin is None:
        raise InputError(f"not an amount: {shown!r} (ASCII digits like 0.01, or 10000000000000000wei)")
    whole = wei.group(1) if wei else (coin.group(1) or "") if coin else ""
    fraction = "" if wei or coin is None else coin.group(2) or coin.group(3) or ""
    if len(whole.lstrip("0")) > AMOUNT_MAX_DIGITS:
        raise InputError(f"amount {shown!r} is too large")
    fraction = fraction.rstrip("0")
    if len(fraction) > decimals:
        raise InputError(f"amount {shown!r} has more than {decimals} decimals (the coin's smallest unit)")
    value = int(whole or "0") if wei else int(whole or "0") * 10**decimals + int(fraction.ljust(decimals, "0") or "0")
    if value < 0 or (value == 0 and not allow_zero):
        raise InputError(f"amount must be positive, got {shown!r}")
    return value


@dataclass(frozen=True, slots=True)
class Coin:
    """What a market's amounts are counted in."""

    symbol: str
    decimals: int = 18

    def text(self, wei: int, *, symbol: bool = True) -> str:
        """``1.5 ETH`` (exact); ``symbol=False``: ``1.5``."""
        amount = format_units(wei, self.decimals)
        return f"{amount} {self.symbol}" if symbol else amount

    def parse(self, text: str) -> int:
        """User input in this coin -> wei (see :func:`parse_units`)."""
        return parse_units(text, self.decimals)


NATIVE_DECIMALS = 18
UNKNOWN = Coin("?", NATIVE_DECIMALS)


def coin_of(settings: Settings, market: str) -> Coin:
    """The coin a market stakes: its chain's native coin (18 decimals), or its ERC-20 stake token as configured."""
    from bot.markets.dialects import DIALECTS

    cfg = settings.market(market)
    if DIALECTS[cfg.dialect].currency == "erc20":
        return Coin(cfg.token_symbol or "TOKEN", cfg.token_decimals if cfg.token_decimals is not None else 18)
    return Coin(settings.chains[cfg.chain].native_symbol, NATIVE_DECIMALS)


def coins_of(settings: Settings) -> dict[str, Coin]:
    """market name -> its coin, for every configured market."""
    return {m.name: coin_of(settings, m.name) for m in settings.markets}
