"""The local Allora service: an honest, causal generator; HTTP control; CLI parsing."""

from __future__ import annotations

import json
import math
import random
import urllib.error
import urllib.request
from typing import Any

import pytest

from bot.allora.reasons import RejectReason
from bot.allora.sources import ApiSource
from devkit.alloraservice import EnsembleGenerator, NoInference, PriceSeries, ServiceTopic, offset_time_map
from devkit.alloraservice.__main__ import build_parser, parse_topic
from devkit.alloraservice.generator import PERCENTILES
from tests.allora.conftest import LOG_RETURN, Env

LR = ServiceTopic(1, "lr", "log-return", horizon_seconds=900)
PX = ServiceTopic(2, "px", "price", horizon_seconds=900)
UD = ServiceTopic(3, "ud", "classification", horizon_seconds=900)


def random_walk(n: int, vol: float, seed: int = 3) -> PriceSeries:
    rng = random.Random(seed)
    closes = [50_000.0]
    for _ in range(n - 1):
        closes.append(closes[-1] * math.exp(rng.gauss(0, vol)))
    return PriceSeries.from_closes(closes)


def test_generator_is_strictly_causal(series: PriceSeries) -> None:
    full = EnsembleGenerator(series)
    cut = 2000
    truncated = EnsembleGenerator(series.head(cut))
    for bar in (cut - 200, cut - 1):
        at = series.open_times[bar] + series.bar_seconds  # bar `bar` has just closed
        for topic in (LR, PX, UD):
            assert full.generate(topic, at) == truncated.generate(topic, at)
    # the future is not known: one second before a bar closes, its close is not used
    at = series.open_times[cut - 1] + series.bar_seconds - 1
    assert full.generate(LR, at).reference_price == series.closes[cut - 2]


def test_performance_weighting_follows_the_better_forecaster() -> None:
    trend = PriceSeries.from_closes([100 * math.exp(0.001 * k) for k in range(400)])
    gen = EnsembleGenerator(trend).generate(ServiceTopic(1, "t", "log-return", horizon_seconds=300),
                                            trend.open_times[350] + 300)
    naive = gen.naive[0][1]
    assert gen.value == pytest.approx(0.001, rel=0.05)  # momentum and drift are right, the network follows them
    assert abs(gen.value - 0.001) < abs(naive - 0.001) / 10


def test_intervals_come_from_realised_volatility() -> None:
    walk = random_walk(3000, vol=0.002)
    generator = EnsembleGenerator(walk, volatility_bars=500)
    gen = generator.generate(LR, walk.open_times[2500] + 300)
    values = [v for _, v in gen.intervals]
    assert [p for p, _ in gen.intervals] == list(PERCENTILES) and values == sorted(values)
    sigma = (values[3] - values[1]) / 2
    assert sigma == pytest.approx(0.002 * math.sqrt(3), rel=0.15)  # 15-minute horizon = 3 bars
    assert values[2] == pytest.approx(gen.value)
    price = generator.generate(PX, walk.open_times[2500] + 300)
    assert price.value == pytest.approx(price.reference_price * math.exp(gen.value))
    labels = dict(generator.generate(UD, walk.open_times[2500] + 300).combined)
    assert set(labels) == {"up", "down"} and labels["up"] + labels["down"] == pytest.approx(1.0)


def test_no_inference_outside_the_series(series: PriceSeries) -> None:
    generator = EnsembleGenerator(series)
    with pytest.raises(NoInference):
        generator.generate(LR, series.start + 600)  # not warmed up
    with pytest.raises(NoInference):
        generator.generate(LR, series.end + 3600)
    shifted = EnsembleGenerator(series, time_map=offset_time_map(0.0, series.start + 86400, speed=60.0))
    assert shifted.index_for(LR, 10.0) == series.index_at(series.start + 86400 + 600)


def _http(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_control_route_scripts_faults_and_time(env: Env) -> None:
    base = env.running.base_url
    status, state = _http(base + "/_control", {"inject": [{"kind": "http_429", "route": "consumer", "times": 2}]})
    assert status == 200 and state["faults"][0]["kind"] == "http_429" and state["signer"] == env.service.signer_address
    with ApiSource(env.config(), clock=env.clock, timeout=2.0) as api:
        assert [api.fetch(LOG_RETURN).reason for _ in range(3)] == [RejectReason.HTTP_429, RejectReason.HTTP_429, None]
        before = env.service.now()
        _http(base + "/_control", {"advance": 600})
        assert env.service.now() == before + 600
        assert api.fetch(LOG_RETURN).inference.timestamp > before  # type: ignore[union-attr]
    _http(base + "/_control", {"advance": -600, "clear": True})
    assert _http(base + "/_control", {"inject": {"kind": "nope"}})[0] == 400
    assert _http(base + "/_control")[1]["faults"] == []


def test_unknown_routes_and_topics(env: Env) -> None:
    base = env.running.base_url
    headers = {"x-api-key": "UP-local-test-key"}
    request = urllib.request.Request(base + "/allora/consumer/ethereum-1?allora_topic_id=14", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 400
    status, body = _http(base + "/emissions/v10/latest_network_inferences/4242")
    assert status == 404 and body["code"] == 5
    status, body = _http(base + "/emissions/v7/latest_network_inferences/14")
    assert status == 404
    status, body = _http(base + "/cosmos/base/tendermint/v1beta1/blocks/latest")
    assert status == 200 and int(body["sdk_block"]["header"]["height"]) == env.service.height_at(env.service.now())


def test_cli_parsing() -> None:
    topic = parse_topic("14:log-return:300:60:BTC 5m")
    assert (topic.topic_id, topic.kind, topic.horizon_seconds, topic.epoch_seconds, topic.name) == (
        14, "log-return", 300, 60, "BTC 5m")
    args = build_parser().parse_args(["--port", "9999", "--topic", "3:price:600", "--series-start", "2025-05-03T00:00Z"])
    assert args.port == 9999 and args.topic[0].epoch_seconds == 600 and args.series_start == 1746230400.0
