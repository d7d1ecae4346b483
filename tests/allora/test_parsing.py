"""Payload parsing: valid API and chain shapes, and arbitrary payloads never raising anything but a typed rejection."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.allora.model import Inference, Rejection
from bot.allora.parsing import (
    parse_api_payload,
    parse_block_time,
    parse_chain_bundle,
    parse_inference_height,
    parse_rfc3339,
    parse_topic,
)
from bot.allora.reasons import RejectReason
from tests.allora.conftest import LOG_RETURN, PRICE, UPDOWN

API = {
    "request_id": "r",
    "status": True,
    "data": {
        "signature": "0x" + "11" * 65,
        "token_decimals": 18,
        "inference_data": {
            "network_inference": "64609501828101036794984",
            "network_inference_normalized": "64609.501828101036794984",
            "topic_id": "77",
            "timestamp": 1785448720,
            "extra_data": "0x",
            "confidence_interval_percentiles": ["2280000000000000000", "15870000000000000000", "50000000000000000000",
                                                "84130000000000000000", "97720000000000000000"],
            "confidence_interval_values": ["64000000000000000000000", "64300000000000000000000",
                                           "64609000000000000000000", "64900000000000000000000",
                                           "65200000000000000000000"],
        },
    },
}
V10 = {
    "network_inferences": {
        "topic_id": "90", "nonce": "600",
        "combined_value": [{"label_id": 0, "label_name": "up", "value": "0.61"},
                           {"label_id": 1, "label_name": "down", "value": "0.39"}],
        "inferer_values": [{"worker": "allo1a", "values": [{"label_id": 0, "label_name": "up", "value": "0.7"},
                                                            {"label_id": 1, "label_name": "down", "value": "0.3"}]}],
        "forecaster_values": [], "naive_value": [{"label_id": 0, "label_name": "up", "value": "0.5"}],
    },
    "inference_block_height": "600",
}
V9 = {
    "network_inferences": {"topic_id": "14", "combined_value": "-0.0012", "naive_value": "0.0001",
                           "inferer_values": [{"worker": "allo1a", "value": "0.001"}, {"worker": "allo1b", "value": "x"}],
                           "forecaster_values": [{"worker": "allo1c", "value": "-0.002"}]},
    "inference_block_height": "1200",
}


def dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_api_payload_parses_exactly() -> None:
    raw = dumps(API)
    inference = parse_api_payload(raw, PRICE)
    assert isinstance(inference, Inference)
    assert inference.value == Decimal("64609.501828101036794984")
    assert inference.timestamp == 1785448720 and inference.topic_id == 77 and inference.decimals == 18
    assert inference.percentiles[1] == Decimal("15.87") and inference.interval_values[0] == Decimal(64000)
    assert inference.consumer_data is not None and inference.consumer_data.network_inference == 64609501828101036794984
    assert inference.signature == b"\x11" * 65 and inference.raw == raw and inference.source == "api"


def test_api_payload_rejections() -> None:
    def with_inference(**fields: Any) -> bytes:
        doc = json.loads(json.dumps(API))
        doc["data"]["inference_data"].update(fields)
        return dumps(doc)

    cases = {
        with_inference(network_inference="NaN", network_inference_normalized="NaN"): RejectReason.NOT_A_NUMBER,
        with_inference(topic_id="78"): RejectReason.WRONG_TOPIC,
        with_inference(network_inference_normalized="1.5"): RejectReason.MALFORMED,
        with_inference(confidence_interval_values=["1"]): RejectReason.MALFORMED,
        with_inference(timestamp="soon"): RejectReason.MALFORMED,
        b"<html>": RejectReason.MALFORMED,
        b'{"status": false, "apiResponseMessage": "down"}': RejectReason.UNAVAILABLE,
        b"[]": RejectReason.MALFORMED,
    }
    for raw, reason in cases.items():
        result = parse_api_payload(raw, PRICE)
        assert isinstance(result, Rejection) and result.reason is reason, (raw[:60], result)


def test_v10_multi_label_bundle() -> None:
    inference = parse_chain_bundle(dumps(V10), UPDOWN, timestamp=1000)
    assert isinstance(inference, Inference)
    assert inference.value == Decimal("0.61") and inference.label_value("down") == Decimal("0.39")
    assert inference.block_height == 600 and inference.timestamp == 1000 and inference.source == "rpc"
    assert {(w.worker, w.label) for w in inference.inferers} == {("allo1a", "up"), ("allo1a", "down")}
    assert inference.naive_value == Decimal("0.5")


def test_v9_bundle_and_camel_case() -> None:
    inference = parse_chain_bundle(dumps(V9), LOG_RETURN, timestamp=1000)
    assert isinstance(inference, Inference)
    assert inference.value == Decimal("-0.0012") and inference.block_height == 1200
    assert [w.worker for w in inference.inferers] == ["allo1a"]  # the unusable entry is skipped
    assert inference.forecasters[0].value == Decimal("-0.002")
    camel = {"networkInferences": {"topicId": "14", "combinedValue": [{"labelName": "y", "value": "0.01"}]},
             "inferenceBlockHeight": "5"}
    parsed = parse_chain_bundle(dumps(camel), LOG_RETURN, timestamp=1)
    assert isinstance(parsed, Inference) and parsed.value == Decimal("0.01") and parsed.block_height == 5
    assert parse_inference_height(dumps(camel)) == 5


def test_v9_single_value_on_classification_topic_is_p_up() -> None:
    doc = {"network_inferences": {"topic_id": "90", "combined_value": "0.7"}, "inference_block_height": "3"}
    inference = parse_chain_bundle(dumps(doc), UPDOWN, timestamp=1)
    assert isinstance(inference, Inference)
    assert inference.labels == (("up", Decimal("0.7")), ("down", Decimal("0.3")))


def test_chain_rejections() -> None:
    nan = {"network_inferences": {"topic_id": "14", "combined_value": [{"label_name": "y", "value": "NaN"}]}}
    other = {"network_inferences": {"topic_id": "15", "combined_value": "1"}}
    missing_label = {"network_inferences": {"topic_id": "90", "combined_value": [{"label_name": "cat", "value": "1"}]}}
    assert parse_chain_bundle(dumps(nan), LOG_RETURN, timestamp=1) == Rejection(RejectReason.NOT_A_NUMBER, "combined_value[0].value: 'NaN'")
    assert getattr(parse_chain_bundle(dumps(other), LOG_RETURN, timestamp=1), "reason", None) is RejectReason.WRONG_TOPIC
    assert getattr(parse_chain_bundle(dumps(missing_label), UPDOWN, timestamp=1), "reason", None) is RejectReason.MALFORMED
    assert getattr(parse_chain_bundle(b"{}", LOG_RETURN, timestamp=1), "reason", None) is RejectReason.MALFORMED


def test_block_time_and_topic() -> None:
    block = {"sdk_block": {"header": {"height": "5", "time": "2025-05-01T00:00:05.123456789Z"}}}
    assert parse_block_time(dumps(block)) == 1746057605
    assert parse_rfc3339("2025-05-01T02:00:00+02:00") == 1746057600
    assert isinstance(parse_block_time(b'{"block": {}}'), Rejection)
    topic = {"topic": {"id": "90", "epoch_length": "60", "topic_type": "TOPIC_TYPE_CLASSIFICATION",
                       "output_arity": 2, "label_whitelist": ["up", "down"], "loss_method": "bce"}}
    info = parse_topic(dumps(topic))
    assert not isinstance(info, Rejection)
    assert (info.topic_id, info.topic_type, info.output_arity, info.labels) == (90, "classification", "multi", ("up", "down"))


# --- property tests: nothing but a typed rejection, ever ----------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
FIELD_NAMES = ["network_inference", "network_inference_normalized", "topic_id", "timestamp", "extra_data",
               "confidence_interval_percentiles", "confidence_interval_values", "token_decimals", "signature"]


def _check(result: object) -> None:
    assert isinstance(result, Inference | Rejection)
    if isinstance(result, Rejection):
        assert isinstance(result.reason, RejectReason)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    for topic in (LOG_RETURN, PRICE, UPDOWN):
        _check(parse_api_payload(raw, topic))
        _check(parse_chain_bundle(raw, topic, timestamp=0))
    assert isinstance(parse_block_time(raw), int | Rejection)
    assert isinstance(parse_topic(raw), object)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_arbitrary_json_never_raises(doc: Any) -> None:
    raw = json.dumps(doc).encode()
    for topic in (LOG_RETURN, PRICE, UPDOWN):
        _check(parse_api_payload(raw, topic))
        _check(parse_chain_bundle(raw, topic, timestamp=0))
    _check(parse_api_payload(dumps({"status": True, "data": {"inference_data": doc}}), PRICE))
    _check(parse_chain_bundle(dumps({"network_inferences": doc}), UPDOWN, timestamp=0))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FIELD_NAMES), json_values)
def test_mutated_valid_payload_never_raises(name: str, value: Any) -> None:
    doc = json.loads(json.dumps(API))
    target = doc["data"] if name in ("token_decimals", "signature") else doc["data"]["inference_data"]
    target[name] = value
    _check(parse_api_payload(dumps(doc), PRICE))
    bundle = json.loads(json.dumps(V10))
    bundle["network_inferences"]["combined_value"] = value
    _check(parse_chain_bundle(dumps(bundle), UPDOWN, timestamp=0))
    bundle["network_inferences"]["inferer_values"] = value
    _check(parse_chain_bundle(dumps(bundle), UPDOWN, timestamp=0))


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    assert getattr(parse_api_payload(raw, PRICE), "reason", None) is RejectReason.MALFORMED
