"""Deploy our compiled contracts (contracts/build) to a devnet with web3 and anvil's unlocked accounts.

``deploy_v2`` (native-coin market + MockAggregator; ``dialect="v2.1"`` for the BSC V2.1 layout), ``deploy_v3``
(ERC-20 market + MockAggregator + TestToken) and ``deploy_ai`` (AI-dialect market, operator-fed prices) each return a
``Deployment`` with the addresses and roles.
``Deployment.market(w3)`` binds the market to the public ABI in abis/ (what the bot uses against real chains), so
code tested on the devnet talks to our contracts exactly as it would to PancakeSwap's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO_ROOT / "contracts" / "build"
ABIS_DIR = REPO_ROOT / "abis"

Dialect = Literal["v2", "v2.1", "v3", "ai"]

#: abis/ file describing each dialect's public interface
PUBLIC_ABI: dict[Dialect, str] = {
    "v2": "PancakePredictionV2",
    "v2.1": "PancakePredictionV2_1",
    "v3": "PancakePredictionV3",
    "ai": "PancakeAIPrediction",
}
#: contracts/build artifact implementing each dialect
ARTIFACT: dict[Dialect, str] = {"v2": "PredictionV2", "v2.1": "PredictionV21", "v3": "PredictionV3", "ai": "AIPrediction"}


class DeployError(RuntimeError):
    """A deployment or setup transaction failed."""


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@cache
def load_artifact(name: str) -> Artifact:
    """A compiled contract from contracts/build/<name>.json."""
    data = json.loads((BUILD_DIR / f"{name}.json").read_text())
    return Artifact(name, data["abi"], data["bytecode"])


@cache
def load_abi(name: str) -> list[dict[str, Any]]:
    """A public ABI from abis/<name>.json (e.g. ``PancakePredictionV2``, ``ERC20``)."""
    abi: list[dict[str, Any]] = json.loads((ABIS_DIR / f"{name}.json").read_text())
    return abi


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """Constructor parameters. Defaults mirror mainnet V2 (300 s rounds, 3 % fee, 0.001 min bet)."""

    interval_seconds: int = 300
    buffer_seconds: int = 30
    min_bet_amount: int = 10**15
    treasury_fee_bp: int = 300
    oracle_update_allowance: int = 300  # V2/V3: max age of the oracle price at executeRound
    oracle_decimals: int = 8  # V2/V3 MockAggregator; the AI dialect uses 18-decimal prices
    initial_price: int = 600 * 10**8  # V2/V3 MockAggregator's first answer
    oracle_description: str = "BNB / USD"


@dataclass(frozen=True, slots=True)
class Roles:
    """Who deploys (owner), administers and operates. Defaults: dev accounts 0, 1 and 2; bettors use 3+."""

    owner: ChecksumAddress
    admin: ChecksumAddress
    operator: ChecksumAddress

    @classmethod
    def default(cls, w3: Web3) -> Roles:
        accounts: list[ChecksumAddress] = list(w3.eth.accounts)
        return cls(owner=accounts[0], admin=accounts[1], operator=accounts[2])


@dataclass(frozen=True, slots=True)
class Deployment:
    """Addresses of one deployed market (and its oracle / token) plus its roles and parameters."""

    dialect: Dialect
    market_address: ChecksumAddress
    roles: Roles
    config: MarketConfig
    oracle_address: ChecksumAddress | None = None
    token_address: ChecksumAddress | None = None
    block_number: int = field(default=0, compare=False)  # block of the market's deployment (start of log scans)

    @property
    def public_abi_name(self) -> str:
        return PUBLIC_ABI[self.dialect]

    def market(self, w3: Web3) -> Contract:
        """The market bound to its public ABI from abis/."""
        return w3.eth.contract(address=self.market_address, abi=load_abi(self.public_abi_name))

    def oracle(self, w3: Web3) -> Contract:
        """The MockAggregator (V2/V3 only), with ``updateAnswer``."""
        if self.oracle_address is None:
            raise DeployError(f"the {self.dialect} dialect has no oracle")
        return w3.eth.contract(address=self.oracle_address, abi=load_artifact("MockAggregator").abi)

    def token(self, w3: Web3) -> Contract:
        """The TestToken (V3 only), with ``mint``."""
        if self.token_address is None:
            raise DeployError(f"the {self.dialect} dialect has no stake token")
        return w3.eth.contract(address=self.token_address, abi=load_artifact("TestToken").abi)


def deploy_contract(w3: Web3, name: str, *args: Any, sender: ChecksumAddress) -> tuple[ChecksumAddress, int]:
    """Deploy artifact ``name`` from unlocked ``sender``; return (address, block number)."""
    art = load_artifact(name)
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    tx_hash = factory.constructor(*args).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    address = receipt.get("contractAddress")
    if receipt["status"] != 1 or address is None:
        raise DeployError(f"deploying {name} failed: {receipt!r}")
    return Web3.to_checksum_address(address), int(receipt["blockNumber"])


def deploy_oracle(w3: Web3, config: MarketConfig, sender: ChecksumAddress) -> ChecksumAddress:
    address, _ = deploy_contract(
        w3, "MockAggregator", config.oracle_decimals, config.initial_price, config.oracle_description, sender=sender
    )
    return address


def deploy_v2(
    w3: Web3, config: MarketConfig | None = None, roles: Roles | None = None, *, dialect: Dialect = "v2"
) -> Deployment:
    """V2 dialect (or its V2.1 layout): native-coin bets reading a fresh MockAggregator."""
    if dialect not in ("v2", "v2.1"):
        raise DeployError(f"deploy_v2 deploys the v2 and v2.1 dialects, not {dialect}")
    config = config or MarketConfig()
    roles = roles or Roles.default(w3)
    oracle = deploy_oracle(w3, config, roles.owner)
    market, block = deploy_contract(w3, ARTIFACT[dialect], oracle, *_core_args(config, roles), sender=roles.owner)
    return Deployment(dialect, market, roles, config, oracle_address=oracle, block_number=block)


def deploy_v3(
    w3: Web3,
    config: MarketConfig | None = None,
    roles: Roles | None = None,
    *,
    token_symbol: str = "TCAKE",  # noqa: S107 - a symbol, not a secret
) -> Deployment:
    """V3 dialect: PredictionV3 (ERC-20 bets in a fresh TestToken) reading a fresh MockAggregator."""
    config = config or MarketConfig()
    roles = roles or Roles.default(w3)
    token, _ = deploy_contract(w3, "TestToken", f"Test {token_symbol}", token_symbol, sender=roles.owner)
    oracle = deploy_oracle(w3, config, roles.owner)
    market, block = deploy_contract(w3, "PredictionV3", token, oracle, *_core_args(config, roles), sender=roles.owner)
    return Deployment("v3", market, roles, config, oracle_address=oracle, token_address=token, block_number=block)


def deploy_ai(w3: Web3, config: MarketConfig | None = None, roles: Roles | None = None) -> Deployment:
    """AI dialect: AIPrediction (native-coin bets, prices passed by the operator)."""
    config = config or MarketConfig()
    roles = roles or Roles.default(w3)
    market, block = deploy_contract(
        w3,
        "AIPrediction",
        roles.admin,
        roles.operator,
        config.interval_seconds,
        config.buffer_seconds,
        config.min_bet_amount,
        config.treasury_fee_bp,
        sender=roles.owner,
    )
    return Deployment("ai", market, roles, config, block_number=block)


def deploy(dialect: Dialect, w3: Web3, config: MarketConfig | None = None, roles: Roles | None = None) -> Deployment:
    """Deploy one dialect by name."""
    if dialect in ("v2", "v2.1"):
        return deploy_v2(w3, config, roles, dialect=dialect)
    if dialect == "v3":
        return deploy_v3(w3, config, roles)
    return deploy_ai(w3, config, roles)


def fund_tokens(w3: Web3, deployment: Deployment, holders: list[ChecksumAddress], amount: int) -> None:
    """V3: mint ``amount`` TestToken to each holder and approve the market for all of it."""
    token = deployment.token(w3)
    sent = []
    for holder in holders:  # fixed gas, no estimates; receipts checked at the end
        sent.append(token.functions.mint(holder, amount).transact({"from": deployment.roles.owner, "gas": 120_000}))
        sent.append(
            token.functions.approve(deployment.market_address, 2**256 - 1).transact({"from": holder, "gas": 80_000})
        )
    for tx_hash in sent:
        _wait(w3, tx_hash)


def _core_args(config: MarketConfig, roles: Roles) -> tuple[Any, ...]:
    return (
        roles.admin,
        roles.operator,
        config.interval_seconds,
        config.buffer_seconds,
        config.min_bet_amount,
        config.oracle_update_allowance,
        config.treasury_fee_bp,
    )


def _wait(w3: Web3, tx_hash: Any) -> None:
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    if receipt["status"] != 1:
        raise DeployError(f"setup transaction failed: {receipt!r}")
