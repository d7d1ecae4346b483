"""Local devnet: an anvil node, our compiled markets deployed on it, and a keeper that runs their rounds.

- ``AnvilNode`` (anvil.py): start/stop anvil on a free loopback port; chain-time control, snapshots.
- ``deploy_v2`` / ``deploy_v3`` / ``deploy_ai`` (deploy.py): deploy a market (+ oracle / token), get a ``Deployment``.
- ``Keeper`` (keeper.py): genesis, executeRound from a price series; explicit time for tests, real time for the demo.
- tx.py: send-and-wait helpers and revert reasons.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use (PEP 562), so that importing a light submodule (devconfig, procs) for the CLI's option defaults
# does not load web3 and the deploy stack: `python main.py --help` stays quick.
_HOME = {
    "AnvilError": "anvil", "AnvilNode": "anvil",
    "Deployment": "deploy", "MarketConfig": "deploy", "Roles": "deploy", "deploy": "deploy", "deploy_ai": "deploy",
    "deploy_v2": "deploy", "deploy_v3": "deploy", "fund_tokens": "deploy",
    "Keeper": "keeper", "KeeperError": "keeper", "KeeperEvent": "keeper",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'devkit.devnet' has no attribute {name!r}")
    return getattr(importlib.import_module(f"devkit.devnet.{_HOME[name]}"), name)


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
