"""An allora-sdk reputer against the local Allora service and our truth service, oldest open nonce first.

The SDK's own ``Reputer`` use case computes each loss bundle (``make_reputer_function`` with our ``get_ground_truth``
over HTTP and our loss), on network inference bundles read through the SDK's emissions client; the open nonces come
from the chain's ``unfulfilled_reputer_nonces``. The truth service's warmer has the oldest open nonce's value ready
before the reputer asks, and ``/health`` says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from allora_sdk import AlloraNetworkConfig, AlloraRPCClient, make_reputer_function
from allora_sdk.rpc_client.protos.emissions.v10 import (
    GetNetworkInferencesAtBlockRequest,
    GetUnfulfilledReputerNoncesRequest,
)
from allora_sdk.worker.reputer import Reputer

from bot.allora.sources.capture import open_bounded_session
from bot.allora.sources.chain import ChainSource
from bot.config import AlloraConfig, TopicConfig
from bot.truth.blocktime import SdkBlockTimes
from bot.truth.groundtruth import GroundTruthResolver
from bot.truth.prices import FunctionPriceSource
from bot.truth.reputer import make_get_ground_truth, make_loss_fn
from bot.truth.service import ServerThread, build_app
from bot.truth.topics import TopicSpec
from bot.truth.warm import ChainNonces
from devkit.alloraservice import DEFAULT_PRICES, PriceSeries, RunningService, ServiceTopic, serve_topics
from tests.truth.truth_helpers import http_get

TOPIC_ID = 14
CHAIN_ID = "allora-localnet-1"


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def series() -> PriceSeries:
    return PriceSeries.load_csv(DEFAULT_PRICES)


@pytest.fixture
def world(series: PriceSeries) -> Iterator[tuple[RunningService, str, FakeClock, GroundTruthResolver]]:
    clock = FakeClock(float(series.start + 3 * 86400 + 7))  # 7 s after an epoch boundary, three days in
    topic = ServiceTopic(TOPIC_ID, "BTC 5min log-return", "log-return", horizon_seconds=300, epoch_seconds=300)

    def price(ts: int) -> float | None:
        i = series.index_at(ts)
        return None if i is None else series.closes[i]

    with serve_topics((topic,), series, clock=clock, genesis_time=series.start, chain_id=CHAIN_ID) as node:
        resolver = GroundTruthResolver([TopicSpec("btc-5m", TOPIC_ID, "log-return", 300, "BTC")],
                                       SdkBlockTimes(node.rest_url, chain_id=CHAIN_ID),
                                       prices={"BTC": FunctionPriceSource(price, "exchange:series:BTC/USDT")},
                                       clock=clock)
        config = AlloraConfig(rpc_url=node.rest_url, network=CHAIN_ID,
                              topics=[TopicConfig(name="btc-5m", topic_id=TOPIC_ID)])
        nonces = ChainNonces(ChainSource(config, timeout=30))
        try:
            with ServerThread(build_app(resolver, nonces=nonces, warm_seconds=0.2)) as truth:
                yield node, truth.base_url, clock, resolver
        finally:
            nonces.close()


def wait_ready(base: str, oldest: int) -> dict:
    """/health once the warmer has answered the oldest open nonce (polls; no timing is asserted)."""
    deadline = time.monotonic() + 120
    while True:
        status, body, _ = http_get(f"{base}/health")
        topic = json.loads(body)["topics"][0]
        if topic.get("oldest_open_nonce") == oldest and topic.get("oldest_status") == 200:
            assert status == 200, topic
            return topic
        assert time.monotonic() < deadline, topic
        time.sleep(0.2)


async def reputer_pass(node: RunningService, truth: str) -> tuple[list[int], dict[int, tuple[float, str]]]:
    """What the SDK reputer does for each open nonce, oldest first: bundle at the nonce, loss bundle, submit."""
    client = AlloraRPCClient(network=AlloraNetworkConfig(chain_id=CHAIN_ID, url=node.rest_url, websocket_url=None))
    query = client.emissions.query
    await open_bounded_session(query, None)  # allora-sdk 1.3.0 never enters its REST session
    try:
        resp = await query.get_unfulfilled_reputer_nonces(GetUnfulfilledReputerNoncesRequest(topic_id=TOPIC_ID))
        nonces = sorted(n.reputer_nonce.block_height for n in resp.nonces.nonces)
        rep_fn = make_reputer_function(make_get_ground_truth(truth, token="BTC"), make_loss_fn("mse"))
        reputer = Reputer(wallet=None, client=client, topic_id=TOPIC_ID, reputer_fn=rep_fn)  # type: ignore[arg-type]
        losses: dict[int, tuple[float, str]] = {}
        for nonce in nonces:  # strictly in order, oldest first, like allora-sdk >= 1.4
            request = GetNetworkInferencesAtBlockRequest(topic_id=TOPIC_ID, block_height_last_inference=nonce)
            bundle = (await query.get_network_inferences_at_block(request)).network_inferences
            loss_bundle = await reputer._compute_loss_bundle(bundle)
            combined = bundle.combined_value[0].value
            losses[nonce] = (float(loss_bundle.combined_value), combined)
        return nonces, losses
    finally:
        await query.session.__aexit__(None, None, None)
        await client.close()


def test_sdk_reputer_oldest_nonce_first(world, series: PriceSeries, caplog: pytest.LogCaptureFixture) -> None:
    node, truth, clock, resolver = world
    service = node.service
    epoch = service.epoch_blocks(service.topics[TOPIC_ID])
    newest = service.inference_height(service.topics[TOPIC_ID], service.height_at(clock()) - epoch)
    expected = [newest - 2 * epoch, newest - epoch, newest]
    topic = wait_ready(truth, expected[0])
    assert topic["open_nonces"] == expected and topic["ready"] is True
    assert all(resolver.final_value(TOPIC_ID, n) is not None for n in expected)  # warmed before anyone asked

    with caplog.at_level(logging.INFO, logger="bot.truth.requests"):
        nonces, losses = asyncio.run(reputer_pass(node, truth))
    assert nonces == expected
    asked = [r.getMessage() for r in caplog.records if r.name == "bot.truth.requests"]
    assert [line.split("block=")[1].split("&")[0] for line in asked] == [str(n) for n in expected]  # oldest first
    assert all(" -> 200 " in line for line in asked)
    for nonce in expected:  # the submitted loss is log10 of the squared error against the realised log-return
        anchor = service.block_time(nonce)
        start, end = series.closes[series.index_at(anchor)], series.closes[series.index_at(anchor + 300)]
        realised = math.log(end / start)
        loss, predicted = losses[nonce]
        assert loss == pytest.approx(math.log10((realised - float(Decimal(predicted))) ** 2 + 1e-100), abs=1e-9)

    clock.t += 300  # one epoch later: the window moves, the new oldest nonce is ready
    topic = wait_ready(truth, expected[1])
    assert topic["open_nonces"] == expected[1:] + [newest + epoch]
