"""Payload -> ``Inference`` (pure). Never raises: anything unusable becomes a typed ``Rejection``.

Parses the raw bytes a source received, so the inference log can re-derive exactly the same inference on replay.
Chain JSON is accepted in proto3 snake_case (what a Cosmos LCD serves) and camelCase (betterproto ``to_json``),
and bundles in both emissions shapes: v9 (``combined_value`` a string) and v10 (a list of labelled values).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from bot import wire
from bot.allora.kinds import kind_of
from bot.allora.model import ConsumerData, Inference, Rejection, TopicInfo, WorkerValue
from bot.allora.reasons import RejectReason
from bot.config import TopicConfig

PERCENTILE_DECIMALS = 18  # confidence_interval_percentiles are scaled by 1e18
CHAIN_DECIMALS = 18  # cosmos Dec precision
MAX_NUMBER_TEXT = 100  # longest numeric string we parse
VALUE_LIMIT = Decimal("1e60")
_NAN_WORDS = ("nan", "inf", "infinity", "-inf", "-infinity", "+inf", "+infinity", "snan", "-nan")
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class _Reject(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _bad(detail: str) -> _Reject:
    return _Reject(RejectReason.MALFORMED, detail)


def _load(raw: bytes) -> Any:
    try:
        return wire.loads(raw, wire.ALLORA, "payload")
    except wire.UnsafeBody as exc:
        raise _bad(str(exc)) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _bad(f"not JSON: {str(exc)[:80]}") from None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _field(node: Any, name: str) -> Any:
    if not isinstance(node, dict):
        return None
    if name in node:
        return node[name]
    return node.get(_camel(name))


def _dict(node: Any, what: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise _bad(f"{what}: expected an object, got {type(node).__name__}")
    return node


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise _bad(f"{what}: boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise _Reject(RejectReason.NOT_A_NUMBER, f"{what}: {value}")
        if not value.is_integer():
            raise _bad(f"{what}: {value} is not an integer")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _NAN_WORDS:
            raise _Reject(RejectReason.NOT_A_NUMBER, f"{what}: {value[:20]!r}")
        if len(text) > MAX_NUMBER_TEXT or not re.fullmatch(r"[+-]?\d+", text):
            raise _bad(f"{what}: not an integer: {value[:40]!r}")
        return int(text)
    raise _bad(f"{what}: expected an integer, got {type(value).__name__}")


def _as_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad(f"{what}: expected a number, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > MAX_NUMBER_TEXT:
        raise _bad(f"{what}: number text too long")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _bad(f"{what}: not a number: {text[:40]!r}") from None
    if not number.is_finite():
        raise _Reject(RejectReason.NOT_A_NUMBER, f"{what}: {text[:20]!r}")
    if abs(number) >= VALUE_LIMIT:
        raise _Reject(RejectReason.OUT_OF_RANGE, f"{what}: {text[:40]!r}")
    return number


def _checked(number: Decimal, what: str) -> Decimal:
    if abs(number) >= VALUE_LIMIT:
        raise _Reject(RejectReason.OUT_OF_RANGE, f"{what}: magnitude {number:.3e}")
    return number


def scale(units: int, decimals: int) -> Decimal:
    """``units / 10**decimals`` exactly."""
    with localcontext() as ctx:
        ctx.prec = 160
        return Decimal(units).scaleb(-decimals)


def _hex_bytes(value: Any, what: str) -> bytes:
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise _bad(f"{what}: expected hex text")
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise _bad(f"{what}: not hex") from None


def _int_list(value: Any, what: str) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad(f"{what}: expected a list")
    items = tuple(_as_int(item, f"{what}[{i}]") for i, item in enumerate(value))
    for item in items:
        if item < -(2**255) or item >= 2**256:
            raise _bad(f"{what}: value does not fit in 256 bits")
    return items


def _classification_labels(topic: TopicConfig, first: Decimal) -> tuple[tuple[str, Decimal], ...]:
    if not kind_of(topic.kind).multi_label or not topic.labels:
        return ()
    if len(topic.labels) == 2:
        return ((topic.labels[0], first), (topic.labels[1], Decimal(1) - first))
    return ((topic.labels[0], first),)


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except _Reject as rej:
        return Rejection(rej.reason, rej.detail)
    except (ValueError, TypeError, ArithmeticError, RecursionError, KeyError, IndexError) as exc:  # belt and braces
        return Rejection(RejectReason.MALFORMED, f"{type(exc).__name__}: {str(exc)[:80]}")


# --- consumer API -------------------------------------------------------------------------------------------------


def parse_api_payload(raw: bytes, topic: TopicConfig) -> Inference | Rejection:
    """A consumer API response body -> ``Inference`` (signature not yet checked)."""
    result: Inference | Rejection = _run(_parse_api, raw, topic)
    return result


def _parse_api(raw: bytes, topic: TopicConfig) -> Inference:
    doc = _dict(_load(raw), "response")
    if doc.get("status") is False:
        message = doc.get("apiResponseMessage") or doc.get("message") or ""
        raise _Reject(RejectReason.UNAVAILABLE, f"API status false: {str(message)[:120]}")
    data = _dict(doc.get("data"), "data")
    body = _dict(data.get("inference_data"), "data.inference_data")
    decimals = topic.token_decimals  # the signature does not cover token_decimals: the scale is ours, not the payload's
    decimals_raw = data.get("token_decimals")
    if decimals_raw is not None and _as_int(decimals_raw, "token_decimals") != decimals:
        raise _Reject(RejectReason.RESCALED, f"payload token_decimals {str(decimals_raw)[:8]} differs from the topic's "
                      f"{decimals} (not covered by the signature)")
    units = _as_int(body.get("network_inference"), "network_inference")
    if units < -(2**255) or units >= 2**256:
        raise _bad("network_inference does not fit in 256 bits")
    timestamp = _as_int(body.get("timestamp"), "timestamp")
    if not 0 <= timestamp < 2**63:
        raise _bad(f"timestamp out of range: {timestamp}")
    topic_id = _as_int(body.get("topic_id"), "topic_id")
    if topic_id != topic.topic_id:
        raise _Reject(RejectReason.WRONG_TOPIC, f"asked for topic {topic.topic_id}, got {topic_id}")
    percentiles = _int_list(body.get("confidence_interval_percentiles"), "confidence_interval_percentiles")
    interval_values = _int_list(body.get("confidence_interval_values"), "confidence_interval_values")
    if len(percentiles) != len(interval_values):
        raise _bad(f"{len(percentiles)} percentiles but {len(interval_values)} interval values")
    value = _checked(scale(units, decimals), "network_inference")
    normalized = body.get("network_inference_normalized")
    if normalized is not None:
        shown = _as_decimal(normalized, "network_inference_normalized")
        if abs(shown - value) > max(abs(value) * Decimal("1e-9"), scale(1, decimals)):
            raise _bad(f"network_inference_normalized {shown} disagrees with network_inference {value}")
    consumer = ConsumerData(
        network_inference=units,
        timestamp=timestamp,
        topic_id=topic_id,
        extra_data=_hex_bytes(body.get("extra_data"), "extra_data"),
        percentiles=percentiles,
        interval_values=interval_values,
    )
    return Inference(
        topic_name=topic.name,
        topic_id=topic_id,
        value=value,
        decimals=decimals,
        timestamp=timestamp,
        source="api",
        raw=raw,
        percentiles=tuple(scale(p, PERCENTILE_DECIMALS) for p in percentiles),
        interval_values=tuple(_checked(scale(v, decimals), "interval value") for v in interval_values),
        labels=_classification_labels(topic, value),
        consumer_data=consumer,
        signature=_hex_bytes(data.get("signature"), "signature"),
    )


# --- chain (emissions v9 / v10) -----------------------------------------------------------------------------------


def _labeled(node: Any, what: str) -> list[tuple[str, Decimal]]:
    """v10 ``[{label_id, label_name, value}]`` or v9 ``"0.12"`` -> [(label, value)]."""
    if node is None:
        return []
    if isinstance(node, str | int | float) and not isinstance(node, bool):
        if isinstance(node, str) and node == "":
            return []
        return [("y", _as_decimal(node, what))]
    if not isinstance(node, list):
        raise _bad(f"{what}: expected a value or a list of labelled values")
    out: list[tuple[str, Decimal]] = []
    for i, item in enumerate(node):
        entry = _dict(item, f"{what}[{i}]")
        name = _field(entry, "label_name")
        label = name if isinstance(name, str) and name else "y"
        out.append((label, _as_decimal(_field(entry, "value"), f"{what}[{i}].value")))
    return out


def _workers(node: Any) -> tuple[WorkerValue, ...]:
    """Per-worker values; unusable entries are skipped (they are informative, the combined value decides)."""
    if not isinstance(node, list):
        return ()
    out: list[WorkerValue] = []
    for item in node:
        worker = _field(item, "worker")
        if not isinstance(worker, str):
            continue
        single = _field(item, "value")
        labelled = _field(item, "values")
        try:
            pairs = _labeled(labelled if labelled is not None else single, "worker value")
        except _Reject:
            continue
        out.extend(WorkerValue(worker=worker, value=value, label=label) for label, value in pairs)
    return tuple(out)


def _pick(pairs: Sequence[tuple[str, Decimal]], topic: TopicConfig) -> Decimal:
    if kind_of(topic.kind).multi_label and not (len(pairs) == 1 and pairs[0][0] == "y"):
        wanted = topic.labels[0].lower() if topic.labels else "up"
        for label, value in pairs:
            if label.lower() == wanted:
                return value
        raise _bad(f"classification bundle has no {wanted!r} label")
    for label, value in pairs:
        if label == "y":
            return value
    return pairs[0][1]


def parse_chain_bundle(
    raw: bytes, topic: TopicConfig, *, timestamp: int, block_height: int | None = None
) -> Inference | Rejection:
    """A latest_network_inferences / network_inferences-at-block response -> ``Inference``.

    ``timestamp`` is the block time of the inference block (the bundle carries none).
    """
    result: Inference | Rejection = _run(_parse_chain, raw, topic, timestamp, block_height)
    return result


def _parse_chain(raw: bytes, topic: TopicConfig, timestamp: int, block_height: int | None) -> Inference:
    doc = _dict(_load(raw), "response")
    bundle = _field(doc, "network_inferences")
    if bundle is None:
        raise _bad("response has no network_inferences")
    bundle = _dict(bundle, "network_inferences")
    height_field = _field(doc, "inference_block_height")
    height = _as_int(height_field, "inference_block_height") if height_field not in (None, "0", 0) else block_height
    topic_field = _field(bundle, "topic_id")
    topic_id = 0 if topic_field is None else _as_int(topic_field, "topic_id")
    if topic_id != topic.topic_id:
        raise _Reject(RejectReason.WRONG_TOPIC, f"asked for topic {topic.topic_id}, got {topic_id}")
    combined = _labeled(_field(bundle, "combined_value"), "combined_value")
    if not combined:
        raise _bad("bundle has no combined_value")
    value = _pick(combined, topic)
    naive = _labeled(_field(bundle, "naive_value"), "naive_value") if _field(bundle, "naive_value") else []
    multi_label = kind_of(topic.kind).multi_label
    if multi_label and len(combined) == 1 and combined[0][0] == "y":
        labels = _classification_labels(topic, value)  # single-valued (v9) bundle: P(first label)
    else:
        labels = tuple(combined) if (len(combined) > 1 or multi_label) else ()
    return Inference(
        topic_name=topic.name,
        topic_id=topic_id,
        value=value,
        decimals=CHAIN_DECIMALS,
        timestamp=timestamp,
        source="rpc",
        raw=raw,
        labels=labels,
        inferers=_workers(_field(bundle, "inferer_values")),
        forecasters=_workers(_field(bundle, "forecaster_values")),
        naive_value=_pick(naive, topic) if naive else None,
        block_height=height,
    )


def parse_inference_height(raw: bytes) -> int | Rejection:
    """``inference_block_height`` of a latest_network_inferences response."""

    def run() -> int:
        doc = _dict(_load(raw), "response")
        height = _as_int(_field(doc, "inference_block_height"), "inference_block_height")
        if height <= 0:
            raise _bad(f"inference_block_height {height}")
        return height

    result: int | Rejection = _run(run)
    return result


def parse_rfc3339(text: str) -> int:
    """RFC 3339 (nanoseconds allowed) -> unix seconds, floored."""
    match = _RFC3339.match(text.strip())
    if not match:
        raise ValueError(f"not an RFC 3339 time: {text[:40]!r}")
    offset = "+00:00" if match.group(3) == "Z" else match.group(3)
    return int(datetime.fromisoformat(match.group(1) + offset).timestamp())


def parse_block_time(raw: bytes) -> int | Rejection:
    """Block time (unix seconds) from a tendermint GetBlockByHeight response (``sdk_block`` or ``block``)."""

    def run() -> int:
        doc = _dict(_load(raw), "response")
        for key in ("sdk_block", "block"):
            header = _field(_field(doc, key), "header")
            when = _field(header, "time")
            if isinstance(when, str):
                return parse_rfc3339(when)
        raise _bad("block has no header.time")

    result: int | Rejection = _run(run)
    return result


def parse_block_height(raw: bytes) -> int | Rejection:
    """Block height from a tendermint GetLatestBlock/GetBlockByHeight response (``sdk_block`` or ``block``)."""

    def run() -> int:
        doc = _dict(_load(raw), "response")
        for key in ("sdk_block", "block"):
            height = _field(_field(_field(doc, key), "header"), "height")
            if height is not None:
                return _as_int(height, "header.height")
        raise _bad("block has no header.height")

    result: int | Rejection = _run(run)
    return result


def parse_next_topic_id(raw: bytes) -> int | Rejection:
    """``next_topic_id`` of an emissions ``next_topic_id`` response (topic ids run 1 .. next_topic_id - 1)."""
    result: int | Rejection = _run(lambda: _as_int(_field(_dict(_load(raw), "response"), "next_topic_id"),
                                                   "next_topic_id"))
    return result


def parse_is_active(raw: bytes) -> bool | Rejection:
    """``is_active`` of an emissions ``is_topic_active`` response (proto3 JSON omits false)."""

    def run() -> bool:
        value = _field(_dict(_load(raw), "response"), "is_active")
        if value is None or isinstance(value, bool):
            return bool(value)
        raise _bad(f"is_active: expected a boolean, got {type(value).__name__}")

    result: bool | Rejection = _run(run)
    return result


def parse_reputer_nonces(raw: bytes) -> list[int] | Rejection:
    """Block heights of an emissions ``unfulfilled_reputer_nonces`` response, oldest first."""

    def run() -> list[int]:
        outer = _field(_dict(_load(raw), "response"), "nonces")
        items = _field(outer, "nonces") if isinstance(outer, dict) else outer
        if items is None:
            return []
        if not isinstance(items, list):
            raise _bad("nonces: expected a list")
        heights = {_as_int(_field(_field(item, "reputer_nonce"), "block_height"), "reputer_nonce.block_height")
                   for item in items}
        return sorted(heights)

    result: list[int] | Rejection = _run(run)
    return result


_TOPIC_TYPES = {0: "unspecified", 1: "regression", 2: "classification"}
_ARITIES = {0: "unspecified", 1: "single", 2: "multi"}


def _enum(value: Any, names: dict[int, str], prefix: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return names.get(value, "unspecified")
    if isinstance(value, str):
        text = value.upper().removeprefix(prefix)
        return text.lower() if text.lower() in names.values() else "unspecified"
    return "unspecified"


def parse_topic(raw: bytes) -> TopicInfo | Rejection:
    """An emissions ``topics/{id}`` response -> ``TopicInfo`` (tolerates enum names, which the SDK cannot parse)."""

    def run() -> TopicInfo:
        doc = _dict(_load(raw), "response")
        topic = _dict(_field(doc, "topic"), "topic")

        def num(name: str) -> int:
            value = _field(topic, name)
            return 0 if value is None else _as_int(value, name)

        whitelist = _field(topic, "label_whitelist")
        labels = tuple(x for x in whitelist if isinstance(x, str)) if isinstance(whitelist, list) else ()
        return TopicInfo(
            topic_id=num("id"),
            metadata=str(_field(topic, "metadata") or ""),
            loss_method=str(_field(topic, "loss_method") or ""),
            epoch_length=num("epoch_length"),
            ground_truth_lag=num("ground_truth_lag"),
            worker_submission_window=num("worker_submission_window"),
            topic_type=_enum(_field(topic, "topic_type"), _TOPIC_TYPES, "TOPIC_TYPE_"),
            output_arity=_enum(_field(topic, "output_arity"), _ARITIES, "TOPIC_OUTPUT_ARITY_"),
            labels=labels,
            allow_negative=bool(_field(topic, "allow_negative")),
        )

    result: TopicInfo | Rejection = _run(run)
    return result
