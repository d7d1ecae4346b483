"""``config/devnet.yaml`` is true as written: it is exactly the config ``devnet up`` writes for its defaults, and our
market lands at the address it names on any fresh chain (anvil's deterministic deployer)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import load_settings
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.deploy import MarketConfig, deploy_v2
from devkit.devnet.devconfig import (
    DEFAULT_ALLORA_PORT,
    DEFAULT_ANVIL_PORT,
    DEFAULT_INTERVAL,
    TEMPLATE,
    devnet_config,
)

pytestmark = pytest.mark.anvil


def test_devnet_yaml_is_what_devnet_up_writes_for_its_defaults() -> None:
    shipped = yaml.safe_load(TEMPLATE.read_text())
    written = devnet_config(anvil_url=f"http://127.0.0.1:{DEFAULT_ANVIL_PORT}",
                            allora_url=f"http://127.0.0.1:{DEFAULT_ALLORA_PORT}",
                            market=shipped["markets"][0]["address"], interval=DEFAULT_INTERVAL,
                            state_dir=Path("data/devnet"))
    assert written == shipped
    settings = load_settings(TEMPLATE)
    assert settings.chains["devnet"].rpc_urls == [f"http://127.0.0.1:{DEFAULT_ANVIL_PORT}"]


def test_the_market_lands_where_devnet_yaml_says_on_a_fresh_chain() -> None:
    shipped = load_settings(TEMPLATE).markets[0]
    for _ in range(2):  # every fresh chain, whatever the round length
        with AnvilNode(accounts=3) as node:
            deployment = deploy_v2(node.w3, MarketConfig(interval_seconds=DEFAULT_INTERVAL))
        assert deployment.market_address == shipped.address
