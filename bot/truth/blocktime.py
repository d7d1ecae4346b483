"""Allora block height -> unix time, through the official SDK, cached in memory (LRU) and optionally in SQLite.

``BlockTimeSource`` is the small interface the ground-truth resolver needs; implementations:

- :class:`SdkBlockTimes`: ``AlloraRPCClient`` (``rest+http(s)://`` or ``grpc+http(s)://``), tendermint
  ``GetBlockByHeight``; the REST route is ``/cosmos/base/tendermint/v1beta1/blocks/{h}`` (proto3 JSON,
  ``sdk_block.header.time`` RFC3339). Applies the allora-sdk 1.3.0 workaround: REST query clients never open their HTTP
  session ("Session not initialized"), so it is entered before the first call and closed by :meth:`aclose`.
- :class:`FixedBlockTimes`: a fixed mapping (or function) for tests, demos and replays.
- :class:`CachedBlockTimes`: wraps any source with an in-memory LRU and an optional SQLite/SQLAlchemy table
  (``bot.store.truth_cache.AlloraBlockTime``), keyed by network name.

Errors: :class:`UnknownBlockError` when the chain has no such block (not produced yet, or pruned), ``TemporaryError``
when the node cannot be reached or fails (retry later).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session, sessionmaker

from bot.errors import BotError, TemporaryError
from bot.store.db import session_scope
from bot.store.truth_cache import cached_block_time, store_block_time

log = logging.getLogger(__name__)


class UnknownBlockError(BotError):
    """The chain has no block at this height (not produced yet, or pruned on this node)."""

    def __init__(self, height: int, reason: str = "") -> None:
        super().__init__(f"Allora block {height} not found" + (f": {reason}" if reason else ""))
        self.height = height


@runtime_checkable
class BlockTimeSource(Protocol):
    async def block_time(self, height: int) -> int:
        """Unix time (seconds, floor) of the block at ``height``."""
        ...


def _to_unix(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() // 1)


def _check_height(height: int) -> None:
    if isinstance(height, bool) or not isinstance(height, int) or height < 1:
        raise ValueError(f"block height must be a positive integer, got {height!r}")


class FixedBlockTimes:
    """Block times from a mapping ``{height: unix_ts}`` or a function ``height -> unix_ts | None``."""

    def __init__(self, times: Mapping[int, int] | Callable[[int], int | None]) -> None:
        self._times = times

    async def block_time(self, height: int) -> int:
        _check_height(height)
        value = self._times(height) if callable(self._times) else self._times.get(height)
        if value is None:
            raise UnknownBlockError(height)
        return int(value)

    @classmethod
    def linear(cls, height0: int, ts0: int, block_seconds: float) -> FixedBlockTimes:
        """Evenly spaced blocks: ``ts0 + (h - height0) * block_seconds`` (a devnet or replay approximation)."""
        return cls(lambda h: int(ts0 + (h - height0) * block_seconds))


class SdkBlockTimes:
    """Block times from an Allora node through ``allora_sdk.AlloraRPCClient`` (tendermint ``GetBlockByHeight``).

    ``url`` is what the SDK takes: ``rest+http://host:1317`` or ``grpc+https://host:443``. The REST client drops any
    path of the base URL, so the node (or an emulator) must serve its routes at the root. Pass ``client=`` to reuse one.
    """

    def __init__(self, url: str | None = None, *, chain_id: str = "allora-testnet-1", client: Any = None) -> None:
        if client is None and not url:
            raise ValueError("SdkBlockTimes needs an Allora node url (rest+http(s)://... or grpc+http(s)://...)")
        self._url = url
        self._chain_id = chain_id
        self._client = client
        self._owns_client = client is None
        self._session_entered = False
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _make_client(self) -> Any:
        from allora_sdk import AlloraNetworkConfig, AlloraRPCClient

        network = AlloraNetworkConfig(chain_id=self._chain_id, url=str(self._url), websocket_url=None)
        return AlloraRPCClient(network=network)

    async def _query(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # HTTP sessions belong to one event loop: start over on a new one
            if self._owns_client:
                self._client = None
            self._session_entered = False
            self._lock = asyncio.Lock()
            self._loop = loop
        assert self._lock is not None
        async with self._lock:
            if self._client is None:  # building the SDK client takes seconds of CPU: never on the event loop
                self._client = await asyncio.to_thread(self._make_client)
            query = self._client.tendermint.query
            session = getattr(query, "session", None)
            if session is not None and not self._session_entered:
                # allora-sdk 1.3.0: REST query clients never open their session ("Session not initialized"); ours
                # bounds every body before the SDK parses it
                from bot.allora.sources.capture import open_bounded_session

                await open_bounded_session(query, getattr(session, "timeout", None))  # the SDK's own timeout
                self._session_entered = True
            return query

    async def block_time(self, height: int) -> int:
        _check_height(height)
        from allora_sdk.rpc_client.protos.cosmos.base.tendermint.v1beta1 import GetBlockByHeightRequest

        query = await self._query()
        try:
            resp = await query.get_block_by_height(GetBlockByHeightRequest(height=height))
        except Exception as exc:  # translate httpx / grpclib errors at the adapter edge
            raise _translate(exc, height) from exc
        for block in (getattr(resp, "sdk_block", None), getattr(resp, "block", None)):
            header = getattr(block, "header", None)
            when = getattr(header, "time", None)
            if header is None or when is None:
                continue
            got = int(getattr(header, "height", 0) or 0)
            if got and got != height:
                raise TemporaryError(f"node answered block {got} when asked for block {height}")
            return _to_unix(when)
        raise UnknownBlockError(height, "response has no block header time")

    async def latest_height(self) -> int:
        """Height of the node's latest block (the readiness probe: is the Allora node answering?)."""
        from allora_sdk.rpc_client.protos.cosmos.base.tendermint.v1beta1 import GetLatestBlockRequest

        query = await self._query()
        try:
            resp = await query.get_latest_block(GetLatestBlockRequest())
        except Exception as exc:  # translate httpx / grpclib errors at the adapter edge
            raise TemporaryError(f"cannot read the latest Allora block: {type(exc).__name__}: {exc}") from exc
        for block in (getattr(resp, "sdk_block", None), getattr(resp, "block", None)):
            height = int(getattr(getattr(block, "header", None), "height", 0) or 0)
            if height:
                return height
        raise TemporaryError("the latest Allora block has no header height")

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if self._loop is not asyncio.get_running_loop():  # its sockets belong to a loop that is gone: just drop it
            self._session_entered = False
            return
        session = getattr(client.tendermint.query, "session", None)
        if session is not None and self._session_entered:
            self._session_entered = False
            await session.__aexit__(None, None, None)
        if self._owns_client:
            await client.close()


def _translate(exc: Exception, height: int) -> BotError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 425, 429):
        return UnknownBlockError(height, f"node answered HTTP {status}")
    grpc_status = getattr(exc, "status", None)
    name = getattr(grpc_status, "name", "")
    if name in ("INVALID_ARGUMENT", "NOT_FOUND"):
        return UnknownBlockError(height, f"node answered {name}")
    return TemporaryError(f"cannot read Allora block {height}: {type(exc).__name__}: {exc}")


class CachedBlockTimes:
    """LRU (``maxsize`` blocks) in front of ``inner``; with ``session_factory``, also a persistent table keyed by
    ``network``. Only successful lookups are cached (an unknown block may exist later)."""

    def __init__(
        self,
        inner: BlockTimeSource,
        *,
        maxsize: int = 4096,
        session_factory: sessionmaker[Session] | None = None,
        network: str = "default",
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.inner = inner
        self.maxsize = maxsize
        self.network = network
        self._factory = session_factory
        self._lru: OrderedDict[int, int] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _remember(self, height: int, ts: int) -> None:
        self._lru[height] = ts
        self._lru.move_to_end(height)
        while len(self._lru) > self.maxsize:
            self._lru.popitem(last=False)

    def _db_get(self, height: int) -> int | None:
        assert self._factory is not None
        with session_scope(self._factory) as s:
            return cached_block_time(s, self.network, height)

    def _db_put(self, height: int, ts: int) -> None:
        assert self._factory is not None
        with session_scope(self._factory) as s:
            store_block_time(s, self.network, height, ts)

    async def block_time(self, height: int) -> int:
        _check_height(height)
        if height in self._lru:
            self.hits += 1
            self._lru.move_to_end(height)
            return self._lru[height]
        if self._factory is not None:
            stored = await asyncio.to_thread(self._db_get, height)
            if stored is not None:
                self.hits += 1
                self._remember(height, stored)
                return stored
        self.misses += 1
        ts = await self.inner.block_time(height)
        self._remember(height, ts)
        if self._factory is not None:
            try:
                await asyncio.to_thread(self._db_put, height, ts)
            except Exception as exc:  # the cache is an optimisation: never fail a lookup because of it
                log.warning("cannot persist block time %s: %s", height, exc)
        return ts

    async def aclose(self) -> None:
        closer = getattr(self.inner, "aclose", None)
        if closer is not None:
            await closer()
