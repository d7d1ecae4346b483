"""Our two callables plugged into allora_sdk.make_reputer_function, called with a RunContext like the SDK reputer."""

import asyncio
import math
from decimal import Decimal

import pytest
from allora_sdk import RunContext, make_reputer_function

from bot.truth.blocktime import FixedBlockTimes
from bot.truth.groundtruth import GroundTruthResolver, NotFinalError
from bot.truth.losses import LossError
from bot.truth.prices import FunctionPriceSource
from bot.truth.reputer import make_get_ground_truth, make_loss_fn
from bot.truth.service import start_in_thread
from bot.truth.topics import TopicSpec
from tests.truth.truth_helpers import H0, T0, Clock

TOPIC = TopicSpec("btc-5m-logret", 64, "log-return", 300, "BTC")
PRICE_TOPIC = TopicSpec("btc-5m-price", 42, "price", 300, "BTC")


def price(ts: int) -> Decimal:
    return Decimal(60000) + (ts - T0)


def truth_at(block: int) -> float:
    anchor = T0 + (block - H0) * 5
    return math.log(float(price(anchor + 300)) / float(price(anchor)))


@pytest.fixture
def resolver():
    clock = Clock(T0 + 3600)
    return GroundTruthResolver([TOPIC, PRICE_TOPIC], FixedBlockTimes.linear(H0, T0, 5),
                               prices={"BTC": FunctionPriceSource(price, "function:test")}, clock=clock)


def ctx(nonce: int, topic_id: int = 64) -> RunContext:
    return RunContext(client=None, topic_id=topic_id, nonce=nonce)  # type: ignore[arg-type]  # no chain needed


def test_sdk_reputer_function_submits_log10_of_our_loss(resolver):
    served = float(asyncio.run(resolver.resolve(64, H0 + 12)).value)  # 18 decimal places
    assert served == pytest.approx(truth_at(H0 + 12), abs=1e-15)
    rep = make_reputer_function(make_get_ground_truth(resolver), make_loss_fn("sqe"))
    calls: list[int] = []
    original = resolver.resolve

    async def counting(*args, **kwargs):
        calls.append(args[1])
        return await original(*args, **kwargs)

    resolver.resolve = counting  # type: ignore[method-assign]

    async def run() -> list[float]:
        return [await rep(ctx(H0 + 12), {"y": p}) for p in (0.001, -0.002, served)]

    out = asyncio.run(run())
    gt = served
    assert out[0] == pytest.approx(math.log10((gt - 0.001) ** 2 + 1e-100))
    assert out[1] == pytest.approx(math.log10((gt + 0.002) ** 2 + 1e-100))
    assert out[2] == pytest.approx(-100.0)  # perfect prediction: log10(0 + 1e-100)
    assert calls == [H0 + 12]  # ground truth fetched once per (topic, nonce)


def test_over_http_like_a_separate_reputer_process(resolver):
    server = start_in_thread(resolver)
    try:
        rep = make_reputer_function(make_get_ground_truth(server.base_url, token="BTC"),
                                    make_loss_fn("huber", {"delta": "0.001"}))
        gt = truth_at(H0 + 40)
        value = asyncio.run(rep(ctx(H0 + 40), {"y": gt + 0.01}))
        assert value == pytest.approx(math.log10(0.001 * (0.01 - 0.0005)))
        with pytest.raises(NotFinalError):  # epoch still running: the SDK logs it and skips this submission
            asyncio.run(make_get_ground_truth(server.base_url)(ctx(H0 + 700)))
    finally:
        server.stop()


def test_price_topic_and_multi_output(resolver):
    rep = make_reputer_function(make_get_ground_truth(resolver), make_loss_fn("abse", label="close"),
                                multi_output=True)
    out = asyncio.run(rep(ctx(H0, topic_id=42), {"close": 60290.0}))
    assert out == pytest.approx(1.0)  # |60300 - 60290| = 10


def test_not_final_and_nan_never_reach_the_chain(resolver):
    rep = make_reputer_function(make_get_ground_truth(resolver), make_loss_fn("sqe"))
    with pytest.raises(NotFinalError):
        asyncio.run(rep(ctx(H0 + 700), {"y": 0.0}))
    with pytest.raises(LossError):
        asyncio.run(rep(ctx(H0 + 12), {"y": float("nan")}))
    with pytest.raises(LossError):
        make_loss_fn("sqe", label="y")(0.1, {"z": 0.2})
