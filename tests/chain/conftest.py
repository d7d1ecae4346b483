"""Fixtures for the failover tests: two fault proxies in front of the session anvil, a web3 over them, a clean chain.

- ``proxies`` (function): ``(primary, secondary)`` ``FaultProxy`` objects forwarding to the session anvil, no faults.
- ``make_w3(urls, **policy)``: a web3 built by ``bot.chain.connection.connect`` with a short ``FailoverPolicy``.
- ``clean_chain`` (function): the session anvil, reverted to an ``evm_snapshot`` after the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from bot.chain.connection import connect, provider_of
from bot.chain.rpc import FailoverPolicy, FailoverProvider
from bot.config import ChainConfig
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.faultproxy import FaultProxy

CHAIN_ID = 31337
# Short timeouts keep black-holed endpoints cheap; cooldown 0 puts the primary first on every call.
FAST = {"rounds": 3, "backoff": 0.01, "cooldown": 0.0, "max_cooldown": 0.0, "timeout": 1.0}
# eth_call of a contract creation whose init code reverts with Error("nope"): a revert without deploying anything.
REVERTING_INITCODE = (
    "0x6064600c60003960646000fd"  # CODECOPY(0, 12, 100); REVERT(0, 100)
    "08c379a0"
    "0000000000000000000000000000000000000000000000000000000000000020"
    "0000000000000000000000000000000000000000000000000000000000000004"
    "6e6f706500000000000000000000000000000000000000000000000000000000"
)


def make_w3(urls: list[str], **policy: Any) -> Web3:
    return connect(ChainConfig(chain_id=CHAIN_ID, rpc_urls=urls), policy=FailoverPolicy(**{**FAST, **policy}))


def provider(w3: Web3) -> FailoverProvider:
    return provider_of(w3)


def signed_transfer(anvil: AnvilNode, w3: Web3, value: int = 1, key_index: int = 9) -> tuple[bytes, str]:
    """A signed ETH transfer from dev account ``key_index`` (raw bytes, 0x hash) at its next nonce."""
    account = Account.from_key(anvil.private_keys[key_index])
    nonce = int(w3.eth.get_transaction_count(account.address, "pending"))
    signed = account.sign_transaction(
        {
            "to": anvil.accounts[1],
            "value": value,
            "gas": 21_000,
            "nonce": nonce,
            "chainId": CHAIN_ID,
            "maxFeePerGas": 50 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "type": 2,
        }
    )
    return bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex()


@pytest.fixture
def proxies(anvil: AnvilNode) -> Iterator[tuple[FaultProxy, FaultProxy]]:
    with FaultProxy(anvil.url, seed=11) as primary, FaultProxy(anvil.url, seed=12) as secondary:
        yield primary, secondary


@pytest.fixture
def clean_chain(anvil: AnvilNode) -> Iterator[AnvilNode]:
    snapshot = anvil.snapshot()
    try:
        yield anvil
    finally:
        anvil.set_automine(True)
        anvil.revert(snapshot)
