"""Exact wei <-> coin text: round trips for any amount and any decimals, and the one parsing rule (more decimals than
the coin has is refused, never rounded)."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.coins import Coin, coin_of, format_units, parse_units, to_decimal
from bot.config import Settings
from bot.errors import InputError

decimals = st.integers(min_value=0, max_value=36)
wei = st.integers(min_value=1, max_value=10**40 - 1)  # 40 integer digits at most (more is refused as a typo)


@given(wei, decimals)
def test_format_then_parse_is_the_same_wei(amount, places):
    text = format_units(amount, places)
    assert parse_units(text, places) == amount
    assert parse_units(f"{amount}wei", places) == amount
    with localcontext() as ctx:
        ctx.prec = 200
        assert to_decimal(amount, places) * 10**places == amount  # exact, no float on the way


@given(st.integers(min_value=-(10**40), max_value=10**40), decimals)
def test_format_is_exact_and_minimal(amount, places):
    text = format_units(amount, places)
    with localcontext() as ctx:
        ctx.prec = 200
        assert Decimal(text) * 10**places == amount
    assert "e" not in text.lower() and not text.endswith(".") and not (text.count(".") and text.endswith("0"))


@given(wei, st.integers(min_value=0, max_value=30))
def test_one_digit_more_than_the_coin_has_is_refused(amount, places):
    text = format_units(amount, places)
    whole, _, fraction = text.partition(".")
    longer = f"{whole}.{fraction.ljust(places, '0')}1"  # the amount to the coin's last decimal, and one digit more
    with pytest.raises(InputError, match=f"more than {places} decimals"):
        parse_units(longer, places)


@pytest.mark.parametrize("wei_value, places, text", [
    (1_500_000_000_000_000_000, 18, "1.5"), (1, 18, "0.000000000000000001"), (10**18, 18, "1"),
    (-25 * 10**16, 18, "-0.25"), (1_234_567, 6, "1.234567"), (7, 0, "7"), (0, 18, "0"),
])
def test_known_values(wei_value, places, text):
    assert format_units(wei_value, places) == text


@pytest.mark.parametrize("bad", ["-1", "1e18", "1,000", "0", "", "abc", "١", "0x10", "+1", "1.2.3"])
def test_bad_input_is_one_line(bad):
    with pytest.raises(InputError) as info:
        parse_units(bad, 18)
    assert "\n" not in str(info.value)


def test_coin_text_and_the_markets_coin_from_config():
    settings = Settings.model_validate({
        "chains": {"bsc": {"chain_id": 56, "rpc_urls": ["http://127.0.0.1:9"], "native_symbol": "BNB"}},
        "markets": [
            {"name": "bnb", "chain": "bsc", "dialect": "v2", "address": "0x" + "11" * 20},
            {"name": "usdt", "chain": "bsc", "dialect": "v3", "address": "0x" + "22" * 20,
             "token": "0x" + "33" * 20, "token_symbol": "USDT", "token_decimals": 6},
        ],
    })
    assert coin_of(settings, "bnb") == Coin("BNB", 18)
    assert coin_of(settings, "usdt") == Coin("USDT", 6)
    assert Coin("USDT", 6).text(1_250_000) == "1.25 USDT" and Coin("USDT", 6).parse("1.25") == 1_250_000
    with pytest.raises(InputError, match="more than 6 decimals"):
        Coin("USDT", 6).parse("0.0000001")
