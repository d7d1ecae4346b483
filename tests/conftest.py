"""Shared pytest fixtures: one anvil node per test session, our markets deployed on it, a clean chain per test.

Fixtures (mark tests that use them with ``pytest.mark.anvil``; they skip when anvil is not installed):

- ``anvil`` (session): a running ``devkit.devnet.AnvilNode`` (automine, chain id 31337, 20 funded dev accounts).
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

- ``postgres`` (session): a throwaway PostgreSQL cluster (``devkit.devnet.postgres.PostgresCluster``) on a loopback port,
  removed at the end; skips when the server binaries are missing (Debian package ``postgresql``), fails instead when
  ``REQUIRE_POSTGRES=1`` (CI, where the package is installed and the tests must run).
- ``pg_url`` (function): the URL of a fresh, empty database on that cluster (dropped after the test).
- ``database_url`` (function, parametrized ``sqlite`` / ``postgresql``): a fresh store of either kind, for tests that
  must hold on both.
- ``store_engine`` (module, parametrized ``sqlite`` / ``postgresql``): a migrated engine on a store shared by a
  module's tests (they clear what they need), disposed and dropped after the module.

Build on them, e.g. ``Keeper(w3, v2).run([...])`` from devkit.devnet.keeper; ``v2.market(w3)`` is the market bound to
abis/PancakePredictionV2.json.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest
from eth_typing import ChecksumAddress
from sqlalchemy.engine import Engine
from web3 import Web3

from bot.store.db import make_engine
from devkit.devnet.anvil import AnvilError, AnvilNode, find_anvil
from devkit.devnet.deploy import Deployment, Dialect, MarketConfig, deploy, fund_tokens
from devkit.devnet.postgres import PostgresCluster, PostgresUnavailable

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


_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the session (initdb + pg_ctl in a temp folder), stopped and removed at the end."""
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as exc:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but unavailable: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(postgres: PostgresCluster) -> Iterator[str]:
    """A fresh empty database on the session cluster; dropped (connections closed) after the test."""
    name = postgres.create_database(f"t{os.getpid()}_{next(_databases)}")
    try:
        yield postgres.url(name)
    finally:
        postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh store: a new SQLite file, or a new database on the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'bot.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated store for a module's tests, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('store') / 'bot.db'}")
        yield engine
        engine.dispose()
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    name = cluster.create_database(f"m{os.getpid()}_{next(_databases)}")
    engine = make_engine(cluster.url(name))
    try:
        yield engine
    finally:
        engine.dispose()
        cluster.drop_database(name)
