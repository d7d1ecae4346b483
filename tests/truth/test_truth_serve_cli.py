"""``python main.py truth serve`` as an operator runs it: one start-up line with the URLs, one log line per request."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devkit.alloraservice import RunningService, ServiceTopic, serve_topics

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def node() -> Iterator[RunningService]:
    # an epoch far longer than the chain's life: no reputer nonce is open, so the warmer never asks the exchange
    topic = ServiceTopic(18, "BTC 20min log-return", "log-return", horizon_seconds=1200, epoch_seconds=10**9)
    with serve_topics((topic,)) as running:
        yield running


def http_get(url: str) -> tuple[int, str]:
    """A GET with a generous timeout: the first request of a fresh process on a loaded machine can be slow."""
    try:
        with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_truth_serve_prints_its_urls_and_logs_requests(node: RunningService, tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "config" / "bsc-mainnet.yaml").read_text())
    config["database_url"] = f"sqlite:///{tmp_path / 'bot.db'}"
    config["allora"]["rpc_url"] = node.rest_url
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "main.py", "-c", str(path), "truth", "serve", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        base = f"http://127.0.0.1:{port}"
        assert first == (f"truth service on {base}: GroundTruthEndpoint {base}/gt?block={{BlockHeight}}&topic="
                         f"{{TopicId}}&token={{Token}} | LossFunctionService {base} | health {base}/health | topics "
                         "18 btc-20m (log-return, 1200s) | open reputer nonces warmed oldest first")
        status, body = http_get(f"{base}/offchain-node-config?topic=18")
        assert status == 200 and json.loads(body)["reputer"][0]["topicId"] == 18
        assert http_get(f"{base}/gt?block=oops&topic=18")[0] == 400
        time.sleep(0.5)  # let the log lines reach the pipe before the process is stopped
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=180)
    assert out.strip() == ""  # exactly one line on stdout
    logged = [line for line in err.splitlines() if "bot.truth.requests" in line]
    assert len(logged) == 2
    assert logged[0].endswith("GET /offchain-node-config?topic=18 -> 200 " + logged[0].rsplit(" -> 200 ", 1)[1])
    assert "GET /gt?block=oops&topic=18 -> 400 " in logged[1]
    assert not (tmp_path / "data").exists()
