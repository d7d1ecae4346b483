"""Shared pytest fixtures: one anvil node per test session, our markets deployed on it, a clean chain per test.

Fixtures (mark tests that use them with ``pytest.mark.anvil``; they skip when anvil is not installed):

- ``anvil`` (session): a running ``bot.devnet.AnvilNode`` (automine, chain id 31337, 20 funded dev accounts).
  ``anvil.w3`` is a connected ``Web3``; ``anvil.accounts`` / ``anvil.private_keys`` the unlocked dev accounts.
- ``deployments`` (session): ``{"v2", "v2.1", "v3", "ai"}`` -> ``Deployment``, deployed once with the default
  ``MarketConfig`` (300 s interval, 30 s buffer, 3 % fee, 0.001 min bet). Roles: owner = accounts[0],
  admin = accounts[1], operator = accounts[2]. V3 bettors hold 1,000,000 TestToken each and have approved the market.
- ``chain`` (function): the ``anvil`` node, with an ``evm_snapshot`` taken before the test and reverted after it, so
  every test starts from the same clean chain (deployed, no round started). Anything a test deploys is undone too.
- ``w3`` (function): ``chain.w3``.
- ``v2``, ``v21``, ``v3``, ``ai`` (function): the session ``Deployment`` of that dialect, on the clean chain.
- ``bettors`` (session): dev accounts 3..19 (plain funded wallets; ``anvil.private_keys[3:]`` sign for them).
- ``deploy_market`` (function): factory ``deploy_market(dialect, config=None) -> Deployment`` for a fresh market with
  custom parameters (undone with the snapshot); V3 bettors are funded and approved.

Build on them, e.g. ``Keeper(w3, v2).run([...])`` from bot.devnet.keeper; ``v2.market(w3)`` is the market bound to
abis/PancakePredictionV2.json.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from eth_typing import ChecksumAddress
from web3 import Web3

from bot.devnet.anvil import AnvilError, AnvilNode, find_anvil
from bot.devnet.deploy import Deployment, Dialect, MarketConfig, deploy, fund_tokens

DEV_ACCOUNTS = 20
TOKEN_FUNDING = 1_000_000 * 10**18


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    """One anvil node (automine) for the whole session; stopped at the end."""
    try:
        find_anvil()
    except AnvilError as exc:
        pytest.skip(f"anvil not installed: {exc}")
    with AnvilNode(accounts=DEV_ACCOUNTS) as node:
        yield node


@pytest.fixture(scope="session")
def bettors(anvil: AnvilNode) -> list[ChecksumAddress]:
    """Dev accounts 3.. (0-2 are owner, admin, operator)."""
    return anvil.accounts[3:]


@pytest.fixture(scope="session")
def deployments(anvil: AnvilNode, bettors: list[ChecksumAddress]) -> dict[str, Deployment]:
    """V2, V2.1, V3 and AI markets deployed once per session with the default MarketConfig."""
    deployed = {dialect: deploy(dialect, anvil.w3) for dialect in ("v2", "v3", "ai", "v2.1")}
    fund_tokens(anvil.w3, deployed["v3"], bettors, TOKEN_FUNDING)
    return deployed


@pytest.fixture
def chain(anvil: AnvilNode, deployments: dict[str, Deployment]) -> Iterator[AnvilNode]:
    """The session node, reverted to a snapshot after the test (markets deployed, no round started)."""
    snapshot = anvil.snapshot()
    try:
        yield anvil
    finally:
        anvil.revert(snapshot)


@pytest.fixture
def w3(chain: AnvilNode) -> Web3:
    return chain.w3


@pytest.fixture
def v2(chain: AnvilNode, deployments: dict[str, Deployment]) -> Deployment:
    return deployments["v2"]


@pytest.fixture
def v21(chain: AnvilNode, deployments: dict[str, Deployment]) -> Deployment:
    return deployments["v2.1"]


@pytest.fixture
def v3(chain: AnvilNode, deployments: dict[str, Deployment]) -> Deployment:
    return deployments["v3"]


@pytest.fixture
def ai(chain: AnvilNode, deployments: dict[str, Deployment]) -> Deployment:
    return deployments["ai"]


@pytest.fixture
def deploy_market(
    chain: AnvilNode, bettors: list[ChecksumAddress]
) -> Callable[[Dialect, MarketConfig | None], Deployment]:
    """Factory for a fresh market with custom parameters, undone after the test."""

    def _deploy(dialect: Dialect, config: MarketConfig | None = None) -> Deployment:
        deployment = deploy(dialect, chain.w3, config)
        if dialect == "v3":
            fund_tokens(chain.w3, deployment, bettors, TOKEN_FUNDING)
        return deployment

    return _deploy
