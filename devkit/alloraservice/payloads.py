"""The JSON the real Allora services answer, built from a ``Generated`` inference (pure apart from signing).

Consumer API: ``{"request_id", "status", "data": {"signature", "token_decimals", "inference_data": {...}}}`` with
uint256 values as decimal strings. Chain (Cosmos LCD, proto3 JSON): snake_case field names, int64/uint64 as strings,
uint32 as numbers, enums by name, bytes as base64, every field present.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any

from bot.allora.digest import inference_digest, sign_digest
from bot.allora.model import ConsumerData
from devkit.alloraservice.control import Fault, FaultKind
from devkit.alloraservice.generator import Generated, LabelValues, ServiceTopic

JSON = dict[str, Any]
BAD_SIGNATURE = b"\x00" * 64 + b"\x1b"  # r = s = 0: nothing recovers from it


def dec_text(value: float) -> str:
    """A float as plain decimal text (no exponent), as chain Dec values are served."""
    text = format(Decimal(repr(value)), "f")
    return text


def to_units(value: float, decimals: int) -> int:
    with localcontext() as ctx:
        ctx.prec = 100
        return int((Decimal(repr(value)) * (Decimal(10) ** decimals)).to_integral_value())


def units_text(units: int, decimals: int) -> str:
    with localcontext() as ctx:
        ctx.prec = 160
        return format(Decimal(units).scaleb(-decimals), "f")


def request_id(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


# --- consumer API -------------------------------------------------------------------------------------------------


def consumer_payload(
    topic: ServiceTopic,
    gen: Generated,
    *,
    decimals: int,
    signer_key: bytes,
    chain_id: int,
    consumer_address: str,
    fault: Fault | None = None,
    other_key: bytes | None = None,
) -> JSON:
    value = gen.value
    if fault is not None and fault.kind is FaultKind.NEGATIVE:
        value = -abs(value) if value != 0 else -1.0
    units = to_units(value, decimals)
    percentiles = [to_units(p, 18) for p, _ in gen.intervals]
    interval_values = [to_units(v, decimals) for _, v in gen.intervals]
    data = ConsumerData(
        network_inference=units,
        timestamp=gen.timestamp,
        topic_id=topic.topic_id,
        extra_data=b"",
        percentiles=tuple(percentiles),
        interval_values=tuple(interval_values),
    )
    key = other_key if (fault is not None and fault.kind is FaultKind.WRONG_SIGNER and other_key) else signer_key
    signature = sign_digest(inference_digest(data, chain_id, consumer_address), key)
    inference: JSON = {
        "network_inference": str(units),
        "network_inference_normalized": units_text(units, decimals),
        "topic_id": str(topic.topic_id),
        "timestamp": gen.timestamp,
        "extra_data": "0x",
    }
    if gen.intervals:
        inference.update(
            {
                "confidence_interval_percentiles": [str(p) for p in percentiles],
                "confidence_interval_percentiles_normalized": [units_text(p, 18) for p in percentiles],
                "confidence_interval_values": [str(v) for v in interval_values],
                "confidence_interval_values_normalized": [units_text(v, decimals) for v in interval_values],
            }
        )
    if fault is not None:
        if fault.kind is FaultKind.BAD_SIGNATURE:
            signature = BAD_SIGNATURE
        elif fault.kind is FaultKind.TAMPERED:
            tampered = units + max(1, abs(units) // 100)
            inference["network_inference"] = str(tampered)
            inference["network_inference_normalized"] = units_text(tampered, decimals)
        elif fault.kind is FaultKind.NAN:
            inference["network_inference"] = "NaN"
            inference["network_inference_normalized"] = "NaN"
        elif fault.kind is FaultKind.UNSIGNED:
            signature = b""
        elif fault.kind is FaultKind.RESCALED:  # the signature stays valid: it does not cover token_decimals
            decimals -= 1
            inference["network_inference_normalized"] = units_text(units, decimals)
            if gen.intervals:
                inference["confidence_interval_values_normalized"] = [units_text(v, decimals) for v in interval_values]
    return {
        "request_id": request_id(topic.topic_id, gen.timestamp, units),
        "status": True,
        "data": {
            "signature": "0x" + signature.hex() if signature else "",
            "token_decimals": decimals,
            "inference_data": inference,
        },
    }


def api_topic(topic: ServiceTopic, epoch_blocks: int, workers: int, updated_at: int) -> JSON:
    return {
        "topic_id": topic.topic_id,
        "topic_name": topic.name,
        "description": f"{topic.asset} {topic.kind} over {topic.horizon_seconds}s (local emulation)",
        "epoch_length": epoch_blocks,
        "ground_truth_lag": epoch_blocks,
        "loss_method": topic.loss_method,
        "worker_submission_window": max(1, epoch_blocks // 2),
        "worker_count": workers,
        "reputer_count": 1,
        "total_staked_allo": 0.0,
        "total_emissions_allo": 0.0,
        "is_active": True,
        "updated_at": datetime.fromtimestamp(updated_at, UTC).isoformat().replace("+00:00", "Z"),
    }


def api_error(status_message: str, *, rid: str) -> JSON:
    return {"request_id": rid, "status": False, "apiResponseMessage": status_message, "data": None}


# --- chain (LCD) --------------------------------------------------------------------------------------------------


def _v10_values(values: LabelValues, fault: Fault | None = None) -> list[JSON]:
    return [{"label_id": i, "label_name": label, "value": _faulty(v, fault)} for i, (label, v) in enumerate(values)]


def _faulty(value: float, fault: Fault | None) -> str:
    if fault is not None and fault.kind is FaultKind.NAN:
        return "NaN"
    if fault is not None and fault.kind is FaultKind.NEGATIVE:
        return dec_text(-abs(value) if value != 0 else -1.0)
    return dec_text(value)


def v10_bundle(topic: ServiceTopic, gen: Generated, height: int, fault: Fault | None = None) -> JSON:
    return {
        "topic_id": str(topic.topic_id),
        "nonce": str(height),
        "combined_value": _v10_values(gen.combined, fault),
        "inferer_values": [{"worker": w, "values": _v10_values(v)} for w, v in gen.inferers],
        "forecaster_values": [{"worker": w, "values": _v10_values(v)} for w, v in gen.forecasters],
        "naive_value": _v10_values(gen.naive),
        "one_out_inferer_values": [],
        "one_out_forecaster_values": [],
        "one_in_forecaster_values": [],
        "one_out_inferer_forecaster_values": [],
    }


def v9_bundle(topic: ServiceTopic, gen: Generated, height: int, fault: Fault | None = None) -> JSON:
    """v9 bundles are single-valued: a classification topic serves P(first label)."""
    return {
        "topic_id": str(topic.topic_id),
        "reputer_request_nonce": {"reputer_nonce": {"block_height": str(height)}},
        "reputer": "",
        "extra_data": "",
        "combined_value": _faulty(gen.combined[0][1], fault),
        "inferer_values": [{"worker": w, "value": dec_text(v[0][1])} for w, v in gen.inferers],
        "forecaster_values": [{"worker": w, "value": dec_text(v[0][1])} for w, v in gen.forecasters],
        "naive_value": dec_text(gen.naive[0][1]),
        "one_out_inferer_values": [],
        "one_out_forecaster_values": [],
        "one_in_forecaster_values": [],
        "one_out_inferer_forecaster_values": [],
    }


def bundle(version: str, topic: ServiceTopic, gen: Generated, height: int, fault: Fault | None = None) -> JSON:
    return v10_bundle(topic, gen, height, fault) if version == "v10" else v9_bundle(topic, gen, height, fault)


def chain_topic(version: str, topic: ServiceTopic, epoch_blocks: int, epoch_last_ended: int) -> JSON:
    body: JSON = {
        "id": str(topic.topic_id),
        "creator": "allo1localservicecreator",
        "metadata": topic.name,
        "loss_method": topic.loss_method,
        "epoch_last_ended": str(epoch_last_ended),
        "epoch_length": str(epoch_blocks),
        "ground_truth_lag": str(epoch_blocks),
        "p_norm": "3",
        "alpha_regret": "0.1",
        "allow_negative": topic.kind == "log-return",
        "epsilon": "0.01",
        "initial_regret": "0",
        "worker_submission_window": str(max(1, epoch_blocks // 2)),
        "merit_sortition_alpha": "0.1",
        "active_inferer_quantile": "0.25",
        "active_forecaster_quantile": "0.25",
        "active_reputer_quantile": "0.25",
        "c_norm": "0.75",
    }
    if version == "v10":
        classification = topic.kind == "classification"
        body.update(
            {
                "topic_type": "TOPIC_TYPE_CLASSIFICATION" if classification else "TOPIC_TYPE_REGRESSION",
                "output_arity": "TOPIC_OUTPUT_ARITY_MULTI" if classification else "TOPIC_OUTPUT_ARITY_SINGLE",
                "require_unity": classification,
                "unity_tolerance": "0.001" if classification else "0",
                "max_labels_per_submission": str(len(topic.labels) if classification else 1),
                "label_whitelist": list(topic.labels) if classification else [],
                "label_default_value": "0",
                "label_case_sensitive": False,
            }
        )
    return {"topic": body, "weight": "1", "effective_revenue": "0", "topic_stake": "0"}


def rfc3339(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")


def block(height: int, t: int, chain_id: str) -> JSON:
    header = {
        "chain_id": chain_id,
        "height": str(height),
        "time": rfc3339(t),
        "proposer_address": "",
    }
    return {
        "block_id": {"hash": "", "part_set_header": {"total": 0, "hash": ""}},
        "block": {"header": dict(header, proposer_address=""), "data": {"txs": []}},
        "sdk_block": {"header": header, "data": {"txs": []}},
    }


def grpc_gateway_error(code: int, message: str) -> JSON:
    return {"code": code, "message": message, "details": []}
