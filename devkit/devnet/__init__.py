"""Local devnet: an anvil node, our compiled markets deployed on it, and a keeper that runs their rounds.

- ``AnvilNode`` (anvil.py): start/stop anvil on a free loopback port; chain-time control, snapshots.
- ``deploy_v2`` / ``deploy_v3`` / ``deploy_ai`` (deploy.py): deploy a market (+ oracle / token), get a ``Deployment``.
- ``Keeper`` (keeper.py): genesis, executeRound from a price series; explicit time for tests, real time for the demo.
- tx.py: send-and-wait helpers and revert reasons.
"""

from devkit.devnet.anvil import AnvilError, AnvilNode
from devkit.devnet.deploy import Deployment, MarketConfig, Roles, deploy, deploy_ai, deploy_v2, deploy_v3, fund_tokens
from devkit.devnet.keeper import Keeper, KeeperError, KeeperEvent

__all__ = [
    "AnvilError",
    "AnvilNode",
    "Deployment",
    "Keeper",
    "KeeperError",
    "KeeperEvent",
    "MarketConfig",
    "Roles",
    "deploy",
    "deploy_ai",
    "deploy_v2",
    "deploy_v3",
    "fund_tokens",
]
