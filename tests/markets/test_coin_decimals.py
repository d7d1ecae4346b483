"""Stake amounts are read in the coin the market takes: 18 decimals for the native coin, the token's own for V3."""

from __future__ import annotations

import pytest

from bot.markets import PredictionMarket, dialect_for

pytestmark = pytest.mark.anvil


def test_coin_decimals_of_native_and_token_markets(chain, v2, v3):
    native = PredictionMarket(chain.w3, v2.market_address, dialect_for("v2"), name="n")
    token = PredictionMarket(chain.w3, v3.market_address, dialect_for("v3"), name="t")
    assert native.coin_decimals() == 18
    token_contract = chain.w3.eth.contract(address=token.token_address(), abi=[{
        "name": "decimals", "type": "function", "stateMutability": "view", "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}]}])
    assert token.coin_decimals() == token_contract.functions.decimals().call() == 18
