"""The bot's config for a persistent devnet: ``config/devnet.yaml`` with the devnet's actual ports and addresses.

``config/devnet.yaml`` describes the devnet ``devnet up`` starts with its defaults (anvil on 8545, the local Allora
service on 8700, 60 s rounds, database under ``data/devnet``); anvil's deterministic deployer (dev account 0, nonces 0
and 1) puts the oracle and the market at the same addresses on every fresh chain, so the file is true as written.
``devnet up`` writes ``<state dir>/config.yaml`` from it, changing only what its flags changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


TEMPLATE = REPO_ROOT / "config" / "devnet.yaml"
DEFAULT_ANVIL_PORT = 8545
DEFAULT_ALLORA_PORT = 8700
DEFAULT_INTERVAL = 60
DEFAULT_API_PORT = 8787


def devnet_config(*, anvil_url: str, allora_url: str, market: str, interval: int, state_dir: Path,
                  api_port: int = DEFAULT_API_PORT) -> dict[str, Any]:
    """The template with this devnet's values filled in (``api_port``: where ``run`` serves the dashboard)."""
    tree: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    tree["api"]["port"] = api_port
    tree["database_url"] = f"sqlite:///{state_dir / 'bot.db'}"
    tree["chains"]["devnet"]["rpc_urls"] = [anvil_url]
    tree["markets"][0]["address"] = market
    tree["allora"]["api_url"] = allora_url
    tree["allora"]["rpc_url"] = f"rest+{allora_url}"
    for topic in tree["allora"]["topics"]:
        topic["horizon_seconds"] = interval
        topic["epoch_seconds"] = max(1, interval // 2)
    tree["risk"]["kill_switch_file"] = str(state_dir / "KILL")
    return tree


def write_devnet_config(path: Path, tree: dict[str, Any]) -> None:
    header = ("# Written by `python main.py devnet up` from config/devnet.yaml for the devnet it started; rewritten at\n"
              "# every `devnet up`. Use it with -c or ALLORA_BOT_CONFIG.\n")
    path.write_text(header + yaml.safe_dump(tree, sort_keys=False))
