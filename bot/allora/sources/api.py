"""Consumer API source: signed network inferences through ``allora_sdk.api_client.AlloraAPIClient``.

The SDK client builds the URLs, sends ``x-api-key`` and validates the response model. We give it our own ``Fetcher``
(the SDK's extension point) so that requests have a timeout, statuses map to typed reasons and the body is kept
verbatim. The API key comes from the environment variable named by ``allora.api_key_env``; it is never logged, and
the SDK's built-in default key is never used.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, cast

import aiohttp
import pydantic
from allora_sdk.api_client import AlloraAPIClient, ChainID, SignatureFormat, Topic
from allora_sdk.api_client import Inference as SdkInference

from bot import wire
from bot.allora.model import FetchResult, Rejection
from bot.allora.parsing import parse_api_payload
from bot.allora.reasons import RejectReason, SourceError, reason_for_status
from bot.allora.sources.base import AsyncSource, Clock
from bot.allora.sources.capture import capturing, check_body, last_body, note
from bot.config import AlloraConfig, TopicConfig
from bot.redact import register

log = logging.getLogger(__name__)


class CapturingFetcher:
    """An ``allora_sdk.api_client.Fetcher``: one aiohttp session, a timeout, typed errors, raw bodies captured."""

    def __init__(self, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, url: str, headers: dict[str, str]) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.get(url, headers=headers) as response:
            try:
                body = await wire.read_capped_async(response, wire.ALLORA, f"body from {url}")
            except wire.UnsafeBody as exc:
                raise SourceError(RejectReason.MALFORMED, str(exc), status=response.status) from None
            note(url, response.status, body)
            check_body(url, response.status, body)
            if response.status >= 400:
                reason = reason_for_status(response.status)
                raise SourceError(reason, f"HTTP {response.status}: {body[:160]!r}", status=response.status, raw=body)
            try:
                return wire.loads(body, wire.ALLORA)
            except ValueError:
                raise SourceError(
                    RejectReason.MALFORMED, "response is not JSON", status=response.status, raw=body
                ) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _Network:
    """Stands in for ``ChainID`` when the configured network is not one of the SDK's enum members."""

    def __init__(self, value: str) -> None:
        self.value = value


def _chain_id(network: str) -> ChainID:
    try:
        return ChainID(network)
    except ValueError:
        return cast(ChainID, _Network(network))


class ApiSource(AsyncSource):
    """Latest signed network inference per topic from the Allora consumer API."""

    name = "api"

    def __init__(
        self,
        config: AlloraConfig,
        *,
        api_key: str | None = None,
        environ: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(timeout=timeout, clock=clock)
        env = os.environ if environ is None else environ
        key = api_key if api_key is not None else env.get(config.api_key_env)
        register(key)
        if not key:
            log.warning("allora api: %s is not set; requests go without an API key", config.api_key_env)
        suffix = config.chain_slug.rsplit("-", 1)[-1]
        if suffix.isdigit() and int(suffix) != config.signature.consumer_chain_id:
            log.warning("allora api: chain_slug %s signs for chain %s but signature.consumer_chain_id is %s",
                        config.chain_slug, suffix, config.signature.consumer_chain_id)
        self.config = config
        self._fetcher = CapturingFetcher(timeout)
        self.client = AlloraAPIClient(
            chain_id=_chain_id(config.network),
            api_key=key or None,
            base_api_url=config.api_url,
            fetcher=self._fetcher,
        )

    def _endpoint(self, topic_id: int) -> str:
        return f"allora/consumer/{self.config.chain_slug}?allora_topic_id={topic_id}&inference_value_type=uint256"

    async def _get(self, topic_id: int) -> SdkInference:
        try:
            signature_format = SignatureFormat(self.config.chain_slug)
        except ValueError:  # a slug the SDK enum does not know: same route through the SDK's generic call
            response = await self.client.fetch_api_response(self._endpoint(topic_id), SdkInference)
            return cast(SdkInference, response.data)
        return await self.client.get_inference_by_topic_id(topic_id, signature_format)

    async def _fetch(self, topic: TopicConfig, fetched_at: float) -> FetchResult:
        with capturing() as sink:
            try:
                await self._get(topic.topic_id)
                sdk_error: Exception | None = None
            except (pydantic.ValidationError, TypeError, ValueError, KeyError) as exc:
                if last_body(sink, "/allora/consumer/") is None:
                    raise
                sdk_error = exc  # the SDK rejected a body it received: our parser says why
        captured = last_body(sink, "/allora/consumer/")
        raw = captured.body if captured else b""
        status = captured.status if captured else None
        parsed = parse_api_payload(raw, topic)
        if sdk_error is not None and not isinstance(parsed, Rejection):
            parsed = Rejection(RejectReason.MALFORMED, f"SDK rejected the response: {str(sdk_error)[:160]}")
        base = FetchResult(
            source=self.name, topic_name=topic.name, topic_id=topic.topic_id, fetched_at=fetched_at, raw=raw,
            http_status=status,
        )
        if isinstance(parsed, Rejection):
            return replace(base, reason=parsed.reason, detail=parsed.detail)
        return replace(base, inference=parsed)

    def topics(self) -> list[Topic]:
        """Every topic the API lists (follows continuation tokens); raises ``SourceError``."""
        return self.run(self.client.get_all_topics())

    async def _aclose(self) -> None:
        await self._fetcher.close()
