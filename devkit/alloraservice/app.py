"""HTTP routes of the local Allora service (aiohttp), all at the root: the SDK REST client drops base-URL paths."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from devkit.alloraservice import payloads
from devkit.alloraservice.control import TRANSPORT_FAULTS, Fault, FaultKind, Route
from devkit.alloraservice.generator import NoInference, ServiceTopic
from devkit.alloraservice.service import OTHER_SIGNER_KEY, AlloraService

REPUTER_EPOCHS = 3  # epochs a reputer nonce stays open (unfulfilled) in the emulation
_STATUS = {FaultKind.HTTP_401: 401, FaultKind.HTTP_404: 404, FaultKind.HTTP_429: 429, FaultKind.HTTP_500: 500}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(), status=status, content_type="application/json",
        headers=headers,
    )


async def _apply_transport(fault: Fault | None, route: Route, topic_id: int | None) -> web.Response | None:
    """Faults that replace the whole response (or delay it)."""
    if fault is None:
        return None
    if fault.kind is FaultKind.TIMEOUT:
        await asyncio.sleep(fault.delay_seconds)
        return None
    if fault.kind not in TRANSPORT_FAULTS:
        return None
    if fault.kind is FaultKind.GARBAGE_JSON:
        return web.Response(text="<html><body>502 Bad Gateway</body></html>{", content_type="application/json")
    if fault.kind is FaultKind.DEEP_JSON:
        return web.Response(body=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")
    status = _STATUS[fault.kind]
    if route == "chain":
        code = {401: 16, 404: 5, 429: 8, 500: 13}[status]
        return _json(payloads.grpc_gateway_error(code, f"scripted {fault.kind.value}"), status)
    message = {
        401: "Unauthorized",
        404: f"Could not get network inferences for allora topic id {topic_id}",
        429: "Too Many Requests",
        500: "Internal Server Error",
    }[status]
    headers = {"Retry-After": "1"} if status == 429 else None
    return _json(payloads.api_error(message, rid=payloads.request_id("err", status)), status, headers)


class Handlers:
    def __init__(self, service: AlloraService) -> None:
        self.s = service

    def _topic(self, raw: str) -> ServiceTopic | None:
        try:
            return self.s.topics.get(int(raw))
        except ValueError:
            return None

    def _authorised(self, request: web.Request) -> bool:
        keys = self.s.config.api_keys
        return keys is None or request.headers.get("x-api-key", "") in keys

    async def consumer(self, request: web.Request) -> web.Response:
        topic_raw = request.query.get("allora_topic_id", "")
        topic = self._topic(topic_raw)
        fault = self.s.control.take("consumer", topic.topic_id if topic else None)
        early = await _apply_transport(fault, "consumer", topic.topic_id if topic else None)
        if early is not None:
            return early
        if not self._authorised(request):
            return _json(payloads.api_error("Unauthorized", rid=payloads.request_id("401")), 401)
        slug = request.match_info["chain_slug"]
        chain_id = int(slug.rsplit("-", 1)[-1]) if slug.rsplit("-", 1)[-1].isdigit() else None
        consumer = self.s.config.consumers.get(chain_id) if chain_id is not None else None
        if chain_id is None or consumer is None or request.query.get("inference_value_type", "uint256") != "uint256":
            return _json(payloads.api_error(f"unsupported signature format {slug}", rid=payloads.request_id(slug)), 400)
        if topic is None:
            message = f"Could not get network inferences for allora topic id {topic_raw}"
            return _json(payloads.api_error(message, rid=payloads.request_id("404", topic_raw)), 404)
        try:
            gen = self.s.generate(topic, self.s.shifted_height(topic, fault))
        except NoInference as exc:
            message = f"Could not get network inferences for allora topic id {topic.topic_id}: {exc}"
            return _json(payloads.api_error(message, rid=payloads.request_id("404", topic_raw)), 404)
        body = payloads.consumer_payload(
            topic, gen, decimals=self.s.config.token_decimals, signer_key=self.s.config.signer_key,
            chain_id=chain_id, consumer_address=consumer, fault=fault, other_key=OTHER_SIGNER_KEY,
        )
        return _json(body)

    async def api_topics(self, request: web.Request) -> web.Response:
        fault = self.s.control.take("topics", None)
        early = await _apply_transport(fault, "topics", None)
        if early is not None:
            return early
        if not self._authorised(request):
            return _json(payloads.api_error("Unauthorized", rid=payloads.request_id("401")), 401)
        token = request.query.get("continuation_token")
        start = int(token) if token and token.isdigit() else 0
        size = self.s.config.topics_page_size
        topics = sorted(self.s.topics.values(), key=lambda t: t.topic_id)
        page = topics[start : start + size]
        now = int(self.s.now())
        listed = [payloads.api_topic(t, self.s.epoch_blocks(t), 6, now) for t in page]
        following = str(start + size) if start + size < len(topics) else None
        data = {"topics": listed, "continuation_token": following}
        return _json({"request_id": payloads.request_id("topics", start), "status": True, "data": data})

    def _version(self, request: web.Request) -> str | None:
        version = request.match_info["version"]
        return version if version in self.s.config.emissions_versions else None

    async def _chain_prelude(self, request: web.Request) -> tuple[str, ServiceTopic, Fault | None] | web.Response:
        version = self._version(request)
        if version is None:
            return _json(payloads.grpc_gateway_error(5, "Not Found"), 404)
        topic = self._topic(request.match_info["topic_id"])
        if topic is None:
            return _json(payloads.grpc_gateway_error(5, f"topic {request.match_info['topic_id']} not found"), 404)
        fault = self.s.control.take("chain", topic.topic_id)
        early = await _apply_transport(fault, "chain", topic.topic_id)
        return early if early is not None else (version, topic, fault)

    async def latest_inferences(self, request: web.Request) -> web.Response:
        prelude = await self._chain_prelude(request)
        if isinstance(prelude, web.Response):
            return prelude
        version, topic, fault = prelude
        height = self.s.shifted_height(topic, fault)
        try:
            gen = self.s.generate(topic, height)
        except NoInference as exc:
            return _json(payloads.grpc_gateway_error(5, f"no network inferences: {exc}"), 404)
        body = {"network_inferences": payloads.bundle(version, topic, gen, height, fault),
                "inference_block_height": str(height)}
        return _json(body)

    async def inferences_at_block(self, request: web.Request) -> web.Response:
        prelude = await self._chain_prelude(request)
        if isinstance(prelude, web.Response):
            return prelude
        version, topic, fault = prelude
        try:
            asked = int(request.match_info["block"])
        except ValueError:
            return _json(payloads.grpc_gateway_error(3, "invalid block height"), 400)
        if asked > self.s.height_at(self.s.now()):
            return _json(payloads.grpc_gateway_error(5, f"block {asked} is in the future"), 404)
        height = self.s.inference_height(topic, asked)
        try:
            gen = self.s.generate(topic, height)
        except NoInference as exc:
            return _json(payloads.grpc_gateway_error(5, f"no network inferences at {asked}: {exc}"), 404)
        return _json({"network_inferences": payloads.bundle(version, topic, gen, height, fault)})

    async def topic(self, request: web.Request) -> web.Response:
        prelude = await self._chain_prelude(request)
        if isinstance(prelude, web.Response):
            return prelude
        version, topic, _ = prelude
        last = self.s.inference_height(topic, self.s.height_at(self.s.now()))
        return _json(payloads.chain_topic(version, topic, self.s.epoch_blocks(topic), last))

    async def next_topic_id(self, request: web.Request) -> web.Response:
        if self._version(request) is None:
            return _json(payloads.grpc_gateway_error(5, "Not Found"), 404)
        fault = self.s.control.take("chain", None)
        early = await _apply_transport(fault, "chain", None)
        if early is not None:
            return early
        return _json({"next_topic_id": str(max(self.s.topics, default=0) + 1)})

    async def topic_active(self, request: web.Request) -> web.Response:
        prelude = await self._chain_prelude(request)
        if isinstance(prelude, web.Response):
            return prelude
        _, topic, _ = prelude
        return _json({"is_active": topic.active})

    async def reputer_nonces(self, request: web.Request) -> web.Response:
        """Open reputer nonces: the last REPUTER_EPOCHS epoch starts whose ground-truth lag (one epoch) has passed."""
        prelude = await self._chain_prelude(request)
        if isinstance(prelude, web.Response):
            return prelude
        _, topic, _ = prelude
        epoch = self.s.epoch_blocks(topic)
        newest = self.s.inference_height(topic, self.s.height_at(self.s.now()) - epoch)
        heights = [newest - k * epoch for k in range(REPUTER_EPOCHS) if newest - k * epoch > self.s.config.genesis_height]
        items = [{"reputer_nonce": {"block_height": str(h)}} for h in heights]
        return _json({"nonces": {"nonces": items}})

    async def block(self, request: web.Request) -> web.Response:
        fault = self.s.control.take("chain", None)
        early = await _apply_transport(fault, "chain", None)
        if early is not None:
            return early
        latest = self.s.height_at(self.s.now())
        raw = request.match_info.get("height", "latest")
        height = latest if raw == "latest" else int(raw) if raw.isdigit() else -1
        if height < self.s.config.genesis_height or (height > latest and height not in self.s.future_heights):
            return _json(payloads.grpc_gateway_error(3, f"requested block height {raw} is not available"), 400)
        return _json(payloads.block(height, self.s.block_time(height), self.s.config.chain_id))

    async def node_info(self, request: web.Request) -> web.Response:
        return _json({"default_node_info": {"network": self.s.config.chain_id}, "application_version": {}})

    async def control_get(self, request: web.Request) -> web.Response:
        return _json({"faults": [f.to_json() for f in self.s.control.active()], "offset": self.s.control.offset,
                      "now": self.s.now(), "signer": self.s.signer_address})

    async def control_post(self, request: web.Request) -> web.Response:
        try:
            command = await request.json()
            if not isinstance(command, dict):
                raise ValueError("expected a JSON object")
            if command.get("clear"):
                self.s.control.clear()
            if "advance" in command:
                self.s.control.advance(float(command["advance"]))
            inject = command.get("inject", [])
            for item in inject if isinstance(inject, list) else [inject]:
                self.s.control.add(Fault.from_json(item))
        except (ValueError, KeyError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)
        return await self.control_get(request)


def make_app(service: AlloraService) -> web.Application:
    """The aiohttp application, every route at the root (the SDK REST client drops base-URL paths)."""
    h = Handlers(service)
    app = web.Application()
    app.router.add_get("/allora/consumer/{chain_slug}", h.consumer)
    app.router.add_get("/allora/{network}/topics", h.api_topics)
    app.router.add_get("/emissions/{version}/latest_network_inferences/{topic_id}", h.latest_inferences)
    at_block = "/emissions/{version}/network_inferences/{topic_id}/last_inference/{block}"
    app.router.add_get(at_block, h.inferences_at_block)
    app.router.add_get("/emissions/{version}/topics/{topic_id}", h.topic)
    app.router.add_get("/emissions/{version}/next_topic_id", h.next_topic_id)
    app.router.add_get("/emissions/{version}/unfulfilled_reputer_nonces/{topic_id}", h.reputer_nonces)
    app.router.add_get("/emissions/{version}/is_topic_active/{topic_id}", h.topic_active)
    app.router.add_get("/cosmos/base/tendermint/v1beta1/blocks/latest", h.block)
    app.router.add_get("/cosmos/base/tendermint/v1beta1/blocks/{height}", h.block)
    app.router.add_get("/cosmos/base/tendermint/v1beta1/node_info", h.node_info)
    app.router.add_get("/_control", h.control_get)
    app.router.add_post("/_control", h.control_post)
    return app
