"""Our signer produces exactly eth-account's bytes and hash (legacy EIP-155 and EIP-1559), and never shows the key."""

from __future__ import annotations

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3

from bot.chain.txcodec import Signer, UnsignedTx

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
uint = st.integers(min_value=0, max_value=2**256 - 1)
small = st.integers(min_value=0, max_value=2**64 - 1)
address = st.binary(min_size=20, max_size=20)


@settings(max_examples=300, deadline=None)
@given(chain_id=st.integers(1, 2**32), nonce=small, gas=st.integers(21_000, 30_000_000), to=address, value=uint,
       data=st.binary(max_size=200), legacy=st.booleans(), fee=st.integers(0, 2**128), tip=st.integers(0, 2**128))
def test_signed_bytes_and_hash_equal_eth_account(chain_id, nonce, gas, to, value, data, legacy, fee, tip):
    tip = min(tip, fee)  # eth-account refuses a priority fee above the max fee
    fields = {"chainId": chain_id, "nonce": nonce, "gas": gas, "to": Web3.to_checksum_address(to), "value": value,
              "data": "0x" + data.hex()}
    if legacy:
        fields["gasPrice"] = fee
        tx = UnsignedTx(chain_id, nonce, gas, to, value, data, gas_price=fee)
    else:
        fields |= {"type": 2, "maxFeePerGas": fee, "maxPriorityFeePerGas": tip}
        tx = UnsignedTx(chain_id, nonce, gas, to, value, data, max_fee=fee, priority_fee=tip)
    expected = Account.sign_transaction(fields, KEY)
    raw, tx_hash = Signer(KEY).sign(tx)
    assert raw == bytes(expected.raw_transaction)
    assert tx_hash == "0x" + bytes(expected.hash).hex()
    # and the chain would attribute it to our account
    assert Account.recover_transaction(raw) == Account.from_key(KEY).address


def test_signer_never_shows_its_key():
    signer = Signer(KEY)
    for text in (repr(signer), str(signer), repr(signer.__slots__)):
        assert KEY.hex() not in text.lower() and "4c0883a6" not in text.lower()


@pytest.mark.parametrize("kwargs, field", [
    ({"to": b"\x01" * 19}, "to"), ({"nonce": -1}, "nonce"), ({"value": -5}, "value"), ({"gas_price": -1}, "gas_price"),
])
def test_malformed_transaction_names_the_field(kwargs, field):
    base = {"chain_id": 1, "nonce": 0, "gas": 21_000, "to": b"\x01" * 20, "value": 0, "data": b""}
    with pytest.raises(ValueError, match=field):
        UnsignedTx(**(base | kwargs))


def test_key_must_be_32_bytes():
    with pytest.raises(ValueError, match="32 bytes"):
        Signer(b"\x01" * 31)
