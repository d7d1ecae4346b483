"""What a real reputer (and its operator) sees of the truth service: /health per topic, 404 vs 425, the request log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest

from bot.errors import TemporaryError
from bot.truth.blocktime import CachedBlockTimes, SdkBlockTimes
from bot.truth.groundtruth import GroundTruthResolver
from bot.truth.prices import FunctionPriceSource
from bot.truth.service import ServerThread, build_app
from bot.truth.topics import TopicSpec
from tests.truth.truth_helpers import H0, T0, Clock, Tendermint, block_ts, http_get

TOPIC = TopicSpec("btc-5m", 64, "log-return", 300, "BTC")
NOW = T0 + 100_000


class Feed:
    """A price feed that can be down, or have no data from ``missing_from`` on."""

    def __init__(self) -> None:
        self.down = False
        self.missing_from: int | None = None

    def __call__(self, ts: int) -> Decimal | None:
        if self.down:
            raise TemporaryError("exchange unreachable")
        if self.missing_from is not None and ts >= self.missing_from:
            return None
        return Decimal(60000 + (ts - T0) % 997)


@pytest.fixture
def feed() -> Feed:
    return Feed()


@pytest.fixture
def service(tendermint: Tendermint, feed: Feed, clock: Clock) -> Iterator[str]:
    tendermint.latest = H0 + (NOW - T0) // 5
    resolver = GroundTruthResolver([TOPIC], CachedBlockTimes(SdkBlockTimes(tendermint.sdk_url)),
                                   prices={"BTC": FunctionPriceSource(feed, "exchange:local:BTC/USDT")}, clock=clock)
    clock.now = NOW
    with ServerThread(build_app(resolver)) as server:
        yield server.base_url


def block_at(ts: int) -> int:
    return H0 + (ts - T0) // 5


def health(base: str) -> tuple[int, dict]:
    status, body, _ = http_get(f"{base}/health")
    return status, json.loads(body)


def test_health_is_not_ok_while_every_gt_answers_503(service: str, feed: Feed, clock: Clock) -> None:
    status, report = health(service)
    assert status == 200 and report["status"] == "ok" and report["topics"][0]["ready"] is True, report["topics"][0]["reasons"]

    feed.down = True
    clock.now += 11  # past the probe cache
    past = block_at(NOW - 3600)
    assert [http_get(f"{service}/gt?block={past + i}&topic=64")[0] for i in range(3)] == [503, 503, 503]
    status, report = health(service)
    topic = report["topics"][0]
    assert status == 503 and report["status"] == "not ready" and topic["ready"] is False
    assert any("exchange unreachable" in r for r in topic["reasons"])
    assert topic["last_answer"]["status"] == 503

    feed.down = False
    clock.now += 11
    assert http_get(f"{service}/gt?block={past}&topic=64")[0] == 200
    status, report = health(service)
    assert status == 200 and report["status"] == "ok" and report["topics"][0]["last_answer"]["status"] == 200


def test_404_for_a_nonce_that_can_never_have_a_value_425_for_not_yet(service: str, feed: Feed, clock: Clock) -> None:
    # the epoch is still running: 425 Too Early with Retry-After until its target has passed
    running = block_at(NOW - 100)
    status, body, headers = http_get(f"{service}/gt?block={running}&topic=64")
    assert status == 425 and int(headers["Retry-After"]) == 300 - 100 + 5 + 1
    # ended 2 minutes ago, the feed has no price yet: may still come -> 425
    feed.missing_from = NOW - 400
    recent = block_at(NOW - 420)
    status, body, headers = http_get(f"{service}/gt?block={recent}&topic=64")
    assert status == 425 and "Retry-After" in headers, body
    # ended an hour ago with no price: none will come -> 404, so a strict-order reputer moves on
    feed.missing_from = NOW - 7200
    old = block_at(NOW - 3900)
    status, body, headers = http_get(f"{service}/gt?block={old}&topic=64")
    assert status == 404 and "none will come" in body and "Retry-After" not in headers
    # a final value is served, and served again from memory even if the feed loses it later
    feed.missing_from = None
    served = http_get(f"{service}/gt?block={block_at(NOW - 5000)}&topic=64")
    feed.missing_from = NOW - 10_000
    assert served[0] == 200 and http_get(f"{service}/gt?block={block_at(NOW - 5000)}&topic=64")[:2] == served[:2]
    assert block_ts(block_at(NOW - 5000)) == NOW - 5000


def test_one_redacted_log_line_per_request(service: str, caplog: pytest.LogCaptureFixture) -> None:
    past = block_at(NOW - 3600)
    with caplog.at_level(logging.INFO, logger="bot.truth.requests"):
        http_get(f"{service}/gt?block={past}&topic=64&token=BTC")
        http_get(f"{service}/gt?block=abc&topic=64&api_key=UPsecretvalue123456")
        http_get(f"{service}/offchain-node-config?topic=64")
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.truth.requests"]
    assert len(lines) == 3
    assert lines[0].startswith(f"GET /gt?block={past}&topic=64&token=BTC -> 200 ")
    assert lines[0].endswith(" ms exchange:local:BTC/USDT")
    assert " -> 400 " in lines[1] and "UPsecretvalue123456" not in lines[1] and "api_key=***" in lines[1]
    assert lines[2].startswith("GET /offchain-node-config?topic=64 -> 200 ")
