"""Build a web3 connection from config and guard the chain id."""

from __future__ import annotations

from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware

from bot.chain.rpc import FailoverPolicy, FailoverProvider
from bot.config import ChainConfig
from bot.errors import WrongChainError


def connect(chain: ChainConfig, *, check_chain_id: bool = True, policy: FailoverPolicy | None = None) -> Web3:
    """A web3 over every configured RPC URL (failover), with the PoA middleware where the chain needs it.

    Raises ``WrongChainError`` if the node's chain id differs from the config (we never act on the wrong chain).
    """
    policy = policy or FailoverPolicy(timeout=chain.request_timeout)
    # every endpoint proves the chain id before it is used (and again after a failure); wrong ones are dropped
    w3 = Web3(FailoverProvider(list(chain.rpc_urls), policy, chain_id=chain.chain_id if check_chain_id else None,
                               quorum=chain.quorum))
    # We sign every transaction ourselves with explicit nonce, gas and chain id, and check the chain id at connect
    # time, so web3's per-request validation (an extra eth_chainId round-trip per call) and ENS lookups only add
    # latency to the bet path.
    for name in ("validation", "ens_name_to_address", "gas_price_strategy", "gas_estimate"):
        try:
            w3.middleware_onion.remove(name)
        except (ValueError, KeyError):
            pass
    if chain.poa:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    if check_chain_id:
        ensure_chain_id(w3, chain.chain_id)
    return w3


def ensure_chain_id(w3: Web3, expected: int) -> None:
    actual = int(w3.eth.chain_id)
    if actual != expected:
        raise WrongChainError(expected, actual)


def provider_of(w3: Web3) -> FailoverProvider:
    provider = w3.provider
    if not isinstance(provider, FailoverProvider):
        raise TypeError("this web3 was not built by bot.chain.connect")
    return provider
