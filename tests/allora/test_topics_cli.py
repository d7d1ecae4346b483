"""``topics list`` / ``topics show``: the real allora-sdk emissions client (v10 and v9 REST) against the local Allora
service, run as the user runs it (``python main.py ...`` in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.alloraservice import PriceSeries, RunningService, ServiceTopic, serve_topics

ROOT = Path(__file__).resolve().parents[2]
BSC = str(ROOT / "config" / "bsc-mainnet.yaml")
TOPICS = (
    ServiceTopic(14, "BTC 5min log-return", "log-return", horizon_seconds=300, epoch_seconds=300),
    ServiceTopic(18, "BTC 20min log-return", "log-return", horizon_seconds=1200, epoch_seconds=1200),
    ServiceTopic(40, "ETH 8h price (retired)", "price", horizon_seconds=28800, epoch_seconds=28800, active=False),
)


@pytest.fixture(scope="module")
def node(series: PriceSeries) -> Iterator[RunningService]:
    with serve_topics(TOPICS, series, block_seconds=4.0) as running:
        yield running


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", "-c", BSC, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("version", ["v10", "v9"])
def test_list_reads_every_topic_with_its_metadata(node: RunningService, version: str) -> None:
    done = cli("topics", "list", "--json", "--rpc-url", node.rest_url, "--emissions", version)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["next_topic_id"] == 41
    assert data["seconds_per_block"] == pytest.approx(4.0)
    rows = {r["topic_id"]: r for r in data["topics"]}
    assert sorted(rows) == [14, 18, 40]  # ids the node does not serve (1..13, 15..17, ...) are skipped
    assert rows[14]["metadata"] == "BTC 5min log-return"
    assert rows[14]["epoch_length_blocks"] == 75 and rows[14]["epoch_seconds"] == 300
    assert rows[18]["epoch_seconds"] == 1200 and rows[18]["ground_truth_lag_seconds"] == 1200
    assert rows[14]["loss_method"] == "mse"
    assert rows[14]["active"] is True and rows[40]["active"] is False


def test_list_active_only_and_table(node: RunningService) -> None:
    done = cli("topics", "list", "--active", "--rpc-url", node.rest_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "2 topics (block time 4.00 s)"
    assert [line.split()[0] for line in lines[2:]] == ["14", "18"]
    assert "75b/5m" in lines[2] and "BTC 5min log-return" in lines[2]


def test_show_compares_the_epoch_with_the_configured_horizon(node: RunningService) -> None:
    done = cli("topics", "show", "14", "--rpc-url", node.rest_url)
    assert done.returncode == 0, done.stderr
    assert "topic 14: BTC 5min log-return" in done.stdout
    assert "epoch length        75 blocks (~5m)" in done.stdout
    assert "config              not used by this config" in done.stdout
    shown = cli("topics", "show", "18", "--json", "--rpc-url", node.rest_url)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["topic_id"] == 18 and data["active"] is True and data["epoch_seconds"] == 1200
    # the shipped BSC config bets topic 18 on its BTC market, declared with the topic's own 20-minute horizon
    assert data["config"] == [{"name": "btc-20m", "kind": "log-return", "horizon_seconds": 1200,
                               "markets": ["btc-usd"], "horizon": "epoch ~1200s matches 1200s"}]


def test_unknown_topic_no_url_and_unreachable_node_are_one_line(node: RunningService, tmp_path: Path) -> None:
    missing = cli("topics", "show", "15", "--rpc-url", node.rest_url)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "error: no topic 15 on this Allora node (`topics list` shows the ids)"
    no_url_config = tmp_path / "no-url.yaml"
    no_url_config.write_text(Path(BSC).read_text().replace("  rpc_url: rest+https://", "  # rpc_url: "))
    no_url = subprocess.run([sys.executable, "main.py", "-c", str(no_url_config), "topics", "list"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert no_url.returncode == 3 and "allora.rpc_url is not set" in no_url.stderr
    assert len(no_url.stderr.strip().splitlines()) == 1
    down = cli("topics", "list", "--rpc-url", "rest+http://127.0.0.1:9")
    assert down.returncode == 5 and len(down.stderr.strip().splitlines()) == 1
