"""The truth service over plain HTTP, requested the way allora-offchain-node's apiAdapter does it."""

import json
import math
from decimal import Decimal

import pytest

from bot.query import QueryService
from bot.store.db import engine_of
from bot.truth.blocktime import CachedBlockTimes, SdkBlockTimes
from bot.truth.groundtruth import GroundTruthResolver, plain
from bot.truth.prices import FunctionPriceSource
from bot.truth.service import GT_TEMPLATE, LABELED_GT_TEMPLATE, reputer_config, start_in_thread
from bot.truth.topics import TopicSpec
from tests.truth.truth_helpers import H0, T0, add_rows, block_ts, fill_template, http_get, http_post, outcome

MARKET = "pcs-btc"
TOPICS = [
    TopicSpec("btc-5m-logret", 64, "log-return", 300, "BTC", markets=(MARKET,)),
    TopicSpec("btc-5m-price", 42, "price", 300, "BTC"),
    TopicSpec("btc-5m-updown", 77, "classification", 300, "BTC", labels=("up", "down"), markets=(MARKET,)),
    TopicSpec("eth-5m-logret", 13, "log-return", 300, "ETH"),
]
ROUND_BLOCK = H0 + 12  # block time T0 + 60 = lock of epoch 10
EXCHANGE_BLOCK = H0 + 20  # T0 + 100: no round lines up
PENDING_BLOCK = H0 + 72  # T0 + 360 = lock of epoch 11, not final


def exchange_price(ts: int) -> Decimal:
    return Decimal(50000 + (ts - T0))


def ln(a: Decimal, b: Decimal) -> Decimal:
    from decimal import localcontext

    with localcontext() as ctx:
        ctx.prec = 40
        return (a / b).ln().quantize(Decimal("1e-18"))


@pytest.fixture
def service(tendermint, db, clock):
    add_rows(db, [
        outcome(MARKET, 10, T0 + 61, T0 + 362, 60000_00000000, 60300_00000000),  # a few seconds late, like real rounds
        outcome(MARKET, 11, T0 + 362, T0 + 663, 60300_00000000, 60100_00000000, final=False, status="locked"),
        outcome(MARKET, 9, T0 - 240, T0 + 61, 59900_00000000, 60000_00000000),
        outcome(MARKET, 8, T0 - 540, T0 - 240, 1, 0, status="refundable"),
    ])
    block_times = CachedBlockTimes(SdkBlockTimes(tendermint.sdk_url), session_factory=db, network="allora-testnet-1")
    prices = {"BTC": FunctionPriceSource(exchange_price, "exchange:local:BTC/USDT")}
    resolver = GroundTruthResolver(TOPICS, block_times, rounds=QueryService(engine_of(db)), prices=prices, clock=clock)
    server = start_in_thread(resolver)
    yield server.base_url
    server.stop()


def get_gt(base: str, block: int, topic: int, token: str = "BTC", template: str = GT_TEMPLATE):
    url = fill_template(template.format(base=base), {"Token": token}, block, topic)
    return http_get(url)


def test_round_outcome_is_the_ground_truth(service):
    status, body, headers = get_gt(service, ROUND_BLOCK, 64)
    assert status == 200
    assert Decimal(body) == ln(Decimal(60300), Decimal(60000))
    assert body == plain(Decimal(body)) and "e" not in body.lower()  # one plain decimal
    assert headers["X-Truth-Source"] == f"round:{MARKET}:10"
    assert headers["Content-Type"].startswith("text/plain")
    assert int(headers["X-Truth-Anchor"]) == block_ts(ROUND_BLOCK)
    assert int(headers["X-Truth-Target"]) == block_ts(ROUND_BLOCK) + 300


def test_exchange_fallback_when_no_round_lines_up(service):
    status, body, headers = get_gt(service, EXCHANGE_BLOCK, 64)
    anchor = block_ts(EXCHANGE_BLOCK)
    assert status == 200
    assert Decimal(body) == ln(exchange_price(anchor + 300), exchange_price(anchor))
    assert headers["X-Truth-Source"] == "exchange:local:BTC/USDT"
    # a price topic: the price at block_time + horizon
    status, body, headers = get_gt(service, EXCHANGE_BLOCK, 42)
    assert (status, body) == (200, str(exchange_price(anchor + 300)))
    assert headers["X-Truth-Source"] == "exchange:local:BTC/USDT"


def test_path_style_route_and_long_parameter_names(service):
    status, body, _ = http_get(f"{service}/gt/64/{ROUND_BLOCK}?token=btcusd")
    assert status == 200 and Decimal(body) == ln(Decimal(60300), Decimal(60000))
    status, body2, _ = http_get(f"{service}/gt?BlockHeight={ROUND_BLOCK}&TopicId=64&Token=bitcoin")
    assert (status, body2) == (200, body)


def test_not_final_until_the_horizon_has_passed(service, clock):
    clock.now = block_ts(EXCHANGE_BLOCK) + 200  # epoch still running
    status, body, headers = get_gt(service, EXCHANGE_BLOCK, 64)
    assert status == 425 and "not final" in body
    assert 100 <= int(headers["Retry-After"]) <= 110


def test_unfinished_round_is_425_then_falls_back_after_grace(service, clock):
    clock.now = block_ts(PENDING_BLOCK) + 300 + 60
    status, body, _ = get_gt(service, PENDING_BLOCK, 64)
    assert status == 425 and f"round:{MARKET}:11" in body
    clock.now = block_ts(PENDING_BLOCK) + 300 + 601  # grace over: the reconciler is late, use the exchange
    status, _, headers = get_gt(service, PENDING_BLOCK, 64)
    assert status == 200 and headers["X-Truth-Source"].startswith("exchange:")


def test_unknown_topic_block_or_source_is_not_200(service, tendermint):
    status, body, _ = get_gt(service, ROUND_BLOCK, 999)
    assert status == 404 and "unknown topic 999" in body
    status, body, _ = get_gt(service, tendermint.latest + 10, 64)
    assert status == 404 and "not found" in body
    status, body, _ = get_gt(service, EXCHANGE_BLOCK, 13, token="ETH")  # no ETH price source, no rounds
    assert status == 404 and "no price source" in body


@pytest.mark.parametrize("query", ["block=abc&topic=64", "topic=64", "block=1012", "block=-5&topic=64",
                                   "block=1012&topic=64&token=ETH", "block=0&topic=64"])
def test_bad_parameters_are_400(service, query):
    status, body, _ = http_get(f"{service}/gt?{query}")
    assert status == 400 and body.strip()


def test_labeled_ground_truth(service):
    status, body, headers = get_gt(service, ROUND_BLOCK, 77, template=LABELED_GT_TEMPLATE)
    assert status == 200
    assert json.loads(body) == [{"label": "up", "value": "1"}, {"label": "down", "value": "0"}]
    assert headers["X-Truth-Source"] == f"round:{MARKET}:10"
    # the scalar route refuses a multi-label topic
    status, body, _ = get_gt(service, ROUND_BLOCK, 77)
    assert status == 400 and "labeled" in body.lower()
    # any topic's realised direction can be asked for (here a price topic, exchange source: a rising function)
    status, body, headers = http_get(f"{service}/gt/labeled/42/{EXCHANGE_BLOCK}")
    assert status == 200 and json.loads(body) == [{"label": "up", "value": "1"}, {"label": "down", "value": "0"}]
    assert headers["X-Truth-Source"].startswith("exchange:")


def test_calculate_like_the_offchain_node(service):
    def calc(payload: dict, query: str = "") -> tuple[int, dict]:
        status, body = http_post(f"{service}/calculate{query}", json.dumps(payload))
        return status, json.loads(body)

    status, out = calc({"y_true": "0.01", "y_pred": "0.02", "options": {"loss_method": "sqe"}})
    assert status == 200 and isinstance(out["loss"], str) and Decimal(out["loss"]) == Decimal("0.0001")
    status, out = calc({"y_true": "0", "y_pred": "3", "options": {"loss_method": "huber", "delta": "1.0"}})
    assert (status, out) == (200, {"loss": "2.5"})
    status, out = calc({"y_true": 1, "y_pred": 0.9, "options": {"method": "bce"}})
    assert status == 200 and math.isclose(float(out["loss"]), -math.log(0.9))
    status, out = calc({"y_true": "0.002", "y_pred": "-0.001", "options": {}}, "?loss_method=ztae")
    assert status == 400 and "std" in out["error"]
    status, out = calc({"y_true": "0.002", "y_pred": "-0.001", "options": {"loss_method": "ztae", "std": "0.001"}})
    assert status == 200 and math.isclose(float(out["loss"]), math.tanh(2) + math.tanh(1))
    # std estimated from the topic's recent final rounds (epochs 9 and 10; refundable 8 skipped)
    status, out = calc({"y_true": "0.002", "y_pred": "-0.001", "options": {"loss_method": "ztae", "topic_id": "64"}})
    r = [math.log(60000 / 59900), math.log(60300 / 60000)]
    std = abs(r[0] - r[1]) / math.sqrt(2)
    assert status == 200 and math.isclose(float(out["loss"]), math.tanh(0.002 / std) + math.tanh(0.001 / std))


def test_calculate_labeled_payload(service):
    payload = {
        "y_true": [{"label": "up", "value": "1.0"}, {"label": "down", "value": "0.0"}],
        "y_pred": [{"label": "down", "value": 0.3}, {"label": "up", "value": "0.7"}],
        "options": {"method": "sqe"},
    }
    for path in ("/calculate", "/labeled/calculate"):
        status, body = http_post(service + path, json.dumps(payload))
        assert status == 200 and math.isclose(float(json.loads(body)["loss"]), 0.09)
    payload["y_pred"] = [{"label": "up", "value": "0.7"}, {"label": "flat", "value": "0.3"}]
    status, body = http_post(service + "/labeled/calculate", json.dumps(payload))
    assert status == 400 and "label sets differ" in json.loads(body)["error"]


@pytest.mark.parametrize("payload", [
    "not json",
    "[1, 2]",
    json.dumps({"y_true": "1"}),
    json.dumps({"y_true": "NaN", "y_pred": "1", "options": {"loss_method": "sqe"}}),
    json.dumps({"y_true": "1", "y_pred": "Infinity", "options": {"loss_method": "sqe"}}),
    json.dumps({"y_true": "1", "y_pred": "2"}),
    json.dumps({"y_true": "1", "y_pred": "2", "options": {"loss_method": "rmsle"}}),
    json.dumps({"y_true": "1", "y_pred": "2", "options": "sqe"}),
    json.dumps({"y_true": "1e200", "y_pred": "-1e200", "options": {"loss_method": "sqe"}}),
])
def test_calculate_rejects_bad_input_with_400(service, payload):
    status, body = http_post(f"{service}/calculate", payload)
    assert status == 400 and json.loads(body)["error"]


def test_is_never_negative(service):
    def ask(payload: dict | str, query: str = "", prefix: str = "") -> tuple[int, dict]:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        status, text = http_post(f"{service}{prefix}/is_never_negative{query}", body)
        return status, json.loads(text)

    assert ask({"options": {"loss_method": "sqe"}}) == (200, {"is_never_negative": True})
    assert ask({"options": {"loss_method": "huber", "delta": "1.0"}}) == (200, {"is_never_negative": True})
    assert ask({"options": {"method": "poisson"}}) == (200, {"is_never_negative": False})
    assert ask("", "?loss_method=ztae") == (200, {"is_never_negative": True})
    assert ask({"options": {"loss_method": "bce"}}, prefix="/labeled") == (200, {"is_never_negative": True})
    status, out = ask({"options": {}})
    assert status == 400 and "loss method" in out["error"]
    status, out = ask({"options": {"loss_method": "nope"}})
    assert status == 400 and "unknown loss method" in out["error"]


def test_health_and_offchain_node_config(service):
    status, body, _ = http_get(f"{service}/health")
    report = json.loads(body)
    assert {t["topic_id"] for t in report["topics"]} == {64, 42, 77, 13}
    # the ETH topic has no market and no ETH price source: not "ok" while its /gt can never answer
    assert status == 503 and report["status"] == "not ready"
    ready = {t["topic_id"]: t["ready"] for t in report["topics"]}
    assert ready == {64: True, 42: True, 77: True, 13: False}
    assert report["topics"][3]["reasons"] == ["no value source: no market mapped to the topic and no price source "
                                              "for ETH"]
    status, body, _ = http_get(f"{service}/offchain-node-config?topic=64")
    entry = json.loads(body)["reputer"][0]
    assert entry["groundTruthParameters"]["GroundTruthEndpoint"] == (
        f"{service}/gt?block={{BlockHeight}}&topic={{TopicId}}&token={{Token}}")
    assert entry["lossFunctionParameters"] == {"LossFunctionService": service,
                                               "LossMethodOptions": {"loss_method": "sqe"}}
    # the generated template, filled like the node does, is served
    url = fill_template(entry["groundTruthParameters"]["GroundTruthEndpoint"], entry["groundTruthParameters"],
                        ROUND_BLOCK, entry["topicId"])
    assert http_get(url)[0] == 200
    labeled = reputer_config(service, TOPICS[2])
    assert "LabeledGroundTruthEndpoint" in labeled["groundTruthParameters"]
    assert labeled["lossFunctionParameters"]["LabeledLossFunctionService"] == f"{service}/labeled"


def test_wired_from_settings_like_truth_serve(tendermint, tmp_path, clock):
    """What ``allora-bot truth serve`` does (minus the foreground run_app): Settings -> resolver -> app."""
    from bot.config import ConfigError, parse_settings
    from bot.store.db import make_engine, session_factory
    from bot.truth.service import ServerThread, build_app, build_resolver

    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"bsc": {"chain_id": 56, "rpc_urls": ["http://127.0.0.1:1"]}},
        "markets": [{"name": MARKET, "chain": "bsc", "dialect": "v2", "address": "0x" + "1" * 40,
                     "topic": "btc-5m"}],
        "allora": {"rpc_url": tendermint.sdk_url, "network": "allora-testnet-1",
                   "topics": [{"name": "btc-5m", "topic_id": 64, "kind": "log-return", "horizon_seconds": 300}]},
        "truth": {"exchange": "binance", "symbol": "BTC/USDT"},
    }
    settings = parse_settings(tree)
    engine = make_engine(settings.database_url)
    add_rows(session_factory(engine), [outcome(MARKET, 10, T0 + 61, T0 + 362, 60000_00000000, 60300_00000000)])
    engine.dispose()
    resolver = build_resolver(settings)
    assert resolver.topics[64].markets == (MARKET,)
    assert resolver.prices["BTC"].label == "exchange:binance:BTC/USDT"  # ccxt source built, not called
    resolver.clock = clock
    with ServerThread(build_app(resolver)) as server:
        status, body, headers = http_get(f"{server.base_url}/gt?block={ROUND_BLOCK}&topic=64&token={{Token}}")
        assert status == 200 and headers["X-Truth-Source"] == f"round:{MARKET}:10"
        assert Decimal(body) == ln(Decimal(60300), Decimal(60000))
        # a second query of the same block is answered from the block-time cache (memory, then SQLite)
        assert http_get(f"{server.base_url}/gt/64/{ROUND_BLOCK}")[0] == 200
    assert tendermint.requests == [ROUND_BLOCK]
    tree["allora"]["rpc_url"] = None
    with pytest.raises(ConfigError, match="rpc_url"):
        build_resolver(parse_settings(tree))


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_sdk_block_times_survive_a_new_event_loop(tendermint):
    import asyncio
    import gc

    source = SdkBlockTimes(tendermint.sdk_url)
    assert asyncio.run(source.block_time(H0 + 1)) == block_ts(H0 + 1)
    assert asyncio.run(source.block_time(H0 + 2)) == block_ts(H0 + 2)  # the first loop (and its session) is gone
    asyncio.run(source.aclose())
    gc.collect()  # the sockets of the dead loops' sessions are only reclaimed by the GC (warned about here, not later)
