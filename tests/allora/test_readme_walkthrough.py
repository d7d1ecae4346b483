"""The README's "From zero to run on BSC" commands, run as written up to the first network call: the Allora node is a
local service serving mainnet's documented topics, reached through the README's own override
(``ALLORA_BOT__ALLORA__RPC_URL``); BSC is not reached (``config check --online`` and ``run`` need the network)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.alloraservice import PriceSeries, RunningService, ServiceTopic, serve_topics

ROOT = Path(__file__).resolve().parents[2]
# Allora mainnet's topics as Allora listed them (2026-07), with 5 s blocks
MAINNET_LIKE = (
    ServiceTopic(1, "BTC 8h Log-Return Prediction", "log-return", horizon_seconds=28800, epoch_seconds=28800),
    ServiceTopic(2, "ETH 8h Log-Return Prediction", "log-return", horizon_seconds=28800, epoch_seconds=28800),
    ServiceTopic(14, "BTC/USD 8h Price Prediction", "price", horizon_seconds=28800, epoch_seconds=28800),
    ServiceTopic(18, "BTC 20min Log-Return Prediction", "log-return", horizon_seconds=1200, epoch_seconds=1200),
)


def walkthrough() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### From zero to `run` on BSC"):]
    block = section[section.index("```sh\n") + 6:]
    block = block[: block.index("```")]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.startswith(".venv/bin/python")]


@pytest.fixture(scope="module")
def node(series: PriceSeries) -> Iterator[RunningService]:
    with serve_topics(MAINNET_LIKE, series, chain_id="allora-mainnet-1") as running:
        yield running


def test_readme_commands_up_to_the_network_call(node: RunningService) -> None:
    commands = walkthrough()
    offline = commands[: next(i for i, c in enumerate(commands) if "--online" in c)]
    assert [c.split("main.py", 1)[1].strip() for c in offline] == [
        "-c config/bsc-mainnet.yaml config show",
        "-c config/bsc-mainnet.yaml config check",
        "-c config/bsc-mainnet.yaml topics list --active",
        "-c config/bsc-mainnet.yaml topics show 18",
    ]
    assert commands[len(offline):] == [
        ".venv/bin/python main.py -c config/bsc-mainnet.yaml config check --online",
        ".venv/bin/python main.py -c config/bsc-mainnet.yaml run",
    ]
    env = {**os.environ, "ALLORA_BOT__ALLORA__RPC_URL": node.rest_url}
    env.pop("ALLORA_API_KEY", None)  # the README says no key is needed
    outputs = []
    for command in offline:
        argv = [sys.executable, *shlex.split(command)[1:]]
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{command}: {done.stderr}"
        outputs.append(done.stdout)
    shown, checked, listed, topic = outputs
    assert "allora-mainnet-1" in shown and "mode: paper" in shown
    assert "config OK" in checked
    assert listed.splitlines()[0] == "4 topics (block time 5.00 s)"
    assert "18  yes" in listed and "240b/20m" in listed
    assert "topic 18: BTC 20min Log-Return Prediction" in topic
    assert "btc-20m (log-return, horizon 1200s, btc-usd): epoch ~1200s matches 1200s" in topic
