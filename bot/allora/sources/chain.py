"""Chain source: network inference bundles straight from an Allora node through ``allora_sdk.AlloraRPCClient``.

Emissions v9 (mainnet as of mid-2026) and v10 (testnet) are both supported, chosen by ``allora.emissions_version``:
the SDK client always wires v10, so for v9 we use the SDK's own v9 query client on the same URL.

Workarounds for allora-sdk 1.3.0 defects (docs/allora.md, plus two found here):
- REST query clients never open their HTTP session: we install and enter one (with our timeout and a body hook).
- ``height=`` is broken: history goes through the ``network_inferences/{topic}/last_inference/{block}`` route.
- The REST client drops any path of the base URL (nothing to do here; the local service serves at the root).
- betterproto cannot parse enum names as a Cosmos LCD serves them (``"TOPIC_TYPE_REGRESSION"``) and ignores
  ``ignore_unknown_fields`` in nested messages: when the SDK fails to parse a 200 body we parse the captured body.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from types import ModuleType
from typing import Any, TypeVar

import httpx
from allora_sdk import AlloraNetworkConfig, AlloraRPCClient
from allora_sdk.rpc_client.protos.cosmos.base.tendermint.v1beta1 import GetBlockByHeightRequest, GetLatestBlockRequest
from allora_sdk.rpc_client.protos.emissions import v9 as emissions_v9
from allora_sdk.rpc_client.protos.emissions import v10 as emissions_v10
from allora_sdk.rpc_client.rest import EmissionsV9RestQueryServiceClient
from cosmpy.aerial.urls import Protocol, parse_url

from bot.allora.model import FetchResult, Rejection, TopicInfo
from bot.allora.parsing import (
    parse_block_height,
    parse_block_time,
    parse_chain_bundle,
    parse_inference_height,
    parse_is_active,
    parse_next_topic_id,
    parse_reputer_nonces,
    parse_topic,
)
from bot.allora.reasons import SourceError, reason_for_status
from bot.allora.sources.base import AsyncSource, Clock
from bot.allora.sources.capture import capturing, last_body, open_bounded_session
from bot.config import AlloraConfig, TopicConfig

log = logging.getLogger(__name__)
SDK_PARSE_ERRORS = (KeyError, ValueError, TypeError, AttributeError)
BLOCK_TIME_CACHE = 512
_T = TypeVar("_T")


class ChainSource(AsyncSource):
    """Latest (or historical) network inference bundles, with per-worker values, from the emissions module."""

    name = "rpc"

    def __init__(
        self,
        config: AlloraConfig,
        *,
        timeout: float = 10.0,
        clock: Clock = time.time,
        chain_id: str | None = None,
    ) -> None:
        if not config.rpc_url:
            raise ValueError("allora.rpc_url is required for the rpc source (rest+http(s)://... or grpc+https://...)")
        super().__init__(timeout=timeout, clock=clock)
        self.config = config
        self.version = config.emissions_version
        network = AlloraNetworkConfig(
            chain_id=chain_id or config.network,
            url=config.rpc_url,
            websocket_url=None,
            query_timeout_secs=max(1, int(timeout)),
        )
        self.client = AlloraRPCClient(network=network)
        url = parse_url(config.rpc_url)
        self._rest = url.protocol != Protocol.GRPC
        self._proto: ModuleType = emissions_v10 if self.version == "v10" else emissions_v9
        self.emissions: Any
        if self.version == "v10":
            self.emissions = self.client.emissions.query
        elif self._rest:
            self.emissions = EmissionsV9RestQueryServiceClient(url.rest_url)
        else:
            self.emissions = emissions_v9.QueryServiceStub(self.client.grpc_client)
        self.tendermint: Any = self.client.tendermint.query
        self._opened = False
        self._block_times: OrderedDict[int, int] = OrderedDict()

    async def _open(self) -> None:
        if self._opened or not self._rest:
            return
        for query in (self.emissions, self.tendermint):
            await open_bounded_session(query, self.timeout)  # SDK defect: its session is never entered
        self._opened = True

    async def _aclose(self) -> None:
        if self._opened:
            for query in (self.emissions, self.tendermint):
                await query.session.__aexit__(None, None, None)
            self._opened = False
        await self.client.close()

    async def _call(self, method: Callable[[Any], Awaitable[Any]], request: Any, fragment: str) -> bytes:
        """Call an SDK query; return the response body (captured on REST, re-serialised on gRPC)."""
        await self._open()
        with capturing() as sink:
            try:
                message = await method(request)
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                body = exc.response.content
                detail = f"HTTP {status}: {body[:160]!r}"
                raise SourceError(reason_for_status(status), detail, status=status, raw=body) from None
            except SDK_PARSE_ERRORS as exc:
                captured = last_body(sink, fragment)
                if captured is None:
                    raise
                log.debug("allora rpc: SDK could not parse %s (%s); using the raw body", fragment, exc)
                return captured.body
        captured = last_body(sink, fragment)
        if captured is not None:
            return captured.body
        return bytes(message.to_json(), "utf-8")

    async def block_time(self, height: int) -> int:
        """Unix time of block ``height`` (cached: a block's time never changes)."""
        cached = self._block_times.get(height)
        if cached is not None:
            return cached
        raw = await self._call(self.tendermint.get_block_by_height, GetBlockByHeightRequest(height=height), "/blocks/")
        parsed = parse_block_time(raw)
        if isinstance(parsed, Rejection):
            raise SourceError(parsed.reason, f"block {height}: {parsed.detail}", raw=raw)
        self._block_times[height] = parsed
        while len(self._block_times) > BLOCK_TIME_CACHE:
            self._block_times.popitem(last=False)
        return parsed

    def _result(self, topic: TopicConfig, fetched_at: float, raw: bytes, timestamp: int, height: int) -> FetchResult:
        base = FetchResult(
            source=self.name, topic_name=topic.name, topic_id=topic.topic_id, fetched_at=fetched_at, raw=raw,
            http_status=200 if self._rest else None, block_height=height,
        )
        parsed = parse_chain_bundle(raw, topic, timestamp=timestamp, block_height=height)
        if isinstance(parsed, Rejection):
            return replace(base, reason=parsed.reason, detail=parsed.detail)
        return replace(base, inference=parsed)

    async def _fetch(self, topic: TopicConfig, fetched_at: float) -> FetchResult:
        request = self._proto.GetLatestNetworkInferencesRequest(topic_id=topic.topic_id)
        raw = await self._call(self.emissions.get_latest_network_inferences, request, "/latest_network_inferences/")
        height = parse_inference_height(raw)
        if isinstance(height, Rejection):
            return FetchResult(
                source=self.name, topic_name=topic.name, topic_id=topic.topic_id, fetched_at=fetched_at, raw=raw,
                reason=height.reason, detail=height.detail, http_status=200 if self._rest else None,
            )
        return self._result(topic, fetched_at, raw, await self.block_time(height), height)

    async def _fetch_at(self, topic: TopicConfig, fetched_at: float, block_height: int) -> FetchResult:
        request = self._proto.GetNetworkInferencesAtBlockRequest(
            topic_id=topic.topic_id, block_height_last_inference=block_height
        )
        raw = await self._call(self.emissions.get_network_inferences_at_block, request, "/last_inference/")
        return self._result(topic, fetched_at, raw, await self.block_time(block_height), block_height)

    async def fetch_at_block_async(self, topic: TopicConfig, block_height: int) -> FetchResult:
        fetched_at = self.clock()
        try:
            return await self._fetch_at(topic, fetched_at, block_height)
        except Exception as exc:
            return self.failure(topic, fetched_at, exc, block_height=block_height)

    def fetch_at_block(self, topic: TopicConfig, block_height: int) -> FetchResult:
        """The network inference bundle whose last inference was at ``block_height`` (never raises)."""
        try:
            return self._loop.run(self.fetch_at_block_async(topic, block_height), timeout=self.timeout + 5.0)
        except Exception as exc:
            return self.failure(topic, self.clock(), exc, block_height=block_height)

    async def topic_info_async(self, topic_id: int) -> TopicInfo:
        request = self._proto.GetTopicRequest(topic_id=topic_id)
        raw = await self._call(self.emissions.get_topic, request, f"/topics/{topic_id}")
        parsed = parse_topic(raw)
        if isinstance(parsed, Rejection):
            raise SourceError(parsed.reason, parsed.detail, raw=raw)
        return parsed

    def topic_info(self, topic_id: int) -> TopicInfo:
        """Topic metadata from the chain; raises ``SourceError``."""
        return self.run(self.topic_info_async(topic_id))


    async def next_topic_id_async(self) -> int:
        """The id the next created topic will get: existing topics are 1 .. this - 1 (raises ``SourceError``)."""
        raw = await self._call(self.emissions.get_next_topic_id, self._proto.GetNextTopicIdRequest(), "/next_topic_id")
        return _checked(parse_next_topic_id(raw), raw)

    async def topic_active_async(self, topic_id: int) -> bool:
        """Whether the chain counts the topic as active (funded and running epochs)."""
        request = self._proto.IsTopicActiveRequest(topic_id=topic_id)
        raw = await self._call(self.emissions.is_topic_active, request, f"/is_topic_active/{topic_id}")
        return _checked(parse_is_active(raw), raw)

    async def unfulfilled_reputer_nonces_async(self, topic_id: int) -> list[int]:
        """The topic's open reputer nonces (epoch-start blocks awaiting losses), oldest first."""
        request = self._proto.GetUnfulfilledReputerNoncesRequest(topic_id=topic_id)
        raw = await self._call(self.emissions.get_unfulfilled_reputer_nonces, request,
                               f"/unfulfilled_reputer_nonces/{topic_id}")
        return _checked(parse_reputer_nonces(raw), raw)

    async def latest_height_async(self) -> int:
        """Height of the node's latest block."""
        raw = await self._call(self.tendermint.get_latest_block, GetLatestBlockRequest(), "/blocks/latest")
        return _checked(parse_block_height(raw), raw)


def _checked(parsed: _T | Rejection, raw: bytes) -> _T:
    if isinstance(parsed, Rejection):
        raise SourceError(parsed.reason, parsed.detail, raw=raw)
    return parsed
