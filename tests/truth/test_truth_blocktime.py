import asyncio

import pytest
from allora_sdk import AlloraNetworkConfig, AlloraRPCClient
from allora_sdk.rpc_client.protos.cosmos.base.tendermint.v1beta1 import GetBlockByHeightRequest

from bot.errors import TemporaryError
from bot.store.db import session_scope
from bot.store.truth_cache import AlloraBlockTime
from bot.truth.blocktime import BlockTimeSource, CachedBlockTimes, FixedBlockTimes, SdkBlockTimes, UnknownBlockError
from tests.truth.truth_helpers import H0, block_ts


def test_sdk_rest_client_needs_the_session_workaround(tendermint):
    """The allora-sdk 1.3.0 defect SdkBlockTimes works around (if this starts failing, the workaround can go)."""

    async def run() -> str:
        network = AlloraNetworkConfig(chain_id="allora-testnet-1", url=tendermint.sdk_url, websocket_url=None)
        client = AlloraRPCClient(network=network)
        try:
            await client.tendermint.query.get_block_by_height(GetBlockByHeightRequest(height=H0))
        except RuntimeError as exc:
            return str(exc)
        finally:
            await client.close()
        return "no error"

    assert "Session not initialized" in asyncio.run(run())


def test_block_time_through_the_sdk_rest_client(tendermint):
    async def run() -> list[int]:
        source = SdkBlockTimes(tendermint.sdk_url)
        try:
            return [await source.block_time(h) for h in (H0, H0 + 1, H0 + 12_345)]
        finally:
            await source.aclose()

    assert asyncio.run(run()) == [block_ts(H0), block_ts(H0 + 1), block_ts(H0 + 12_345)]
    assert isinstance(SdkBlockTimes("rest+http://127.0.0.1:1"), BlockTimeSource)


def test_future_block_is_unknown_and_dead_node_is_temporary(tendermint):
    async def run() -> None:
        source = SdkBlockTimes(tendermint.sdk_url)
        try:
            with pytest.raises(UnknownBlockError, match="HTTP 400"):
                await source.block_time(tendermint.latest + 1)
            with pytest.raises(ValueError):
                await source.block_time(0)
        finally:
            await source.aclose()
        dead = SdkBlockTimes("rest+http://127.0.0.1:9")  # discard port: connection refused
        try:
            with pytest.raises(TemporaryError):
                await dead.block_time(H0)
        finally:
            await dead.aclose()

    asyncio.run(run())


def test_lru_cache_avoids_repeat_queries(tendermint):
    async def run() -> CachedBlockTimes:
        cached = CachedBlockTimes(SdkBlockTimes(tendermint.sdk_url), maxsize=2)
        try:
            for h in (H0, H0, H0 + 1, H0, H0 + 2, H0 + 1):
                assert await cached.block_time(h) == block_ts(h)
        finally:
            await cached.aclose()
        return cached

    cached = asyncio.run(run())
    # H0 miss, H0 hit, H0+1 miss, H0 hit, H0+2 miss (evicts H0+1, the least recently used), H0+1 miss
    assert tendermint.requests == [H0, H0 + 1, H0 + 2, H0 + 1]
    assert (cached.hits, cached.misses) == (2, 4)


def test_sqlite_cache_survives_restarts(tendermint, db):
    async def first() -> int:
        cached = CachedBlockTimes(SdkBlockTimes(tendermint.sdk_url), session_factory=db, network="allora-testnet-1")
        try:
            return await cached.block_time(H0 + 7)
        finally:
            await cached.aclose()

    assert asyncio.run(first()) == block_ts(H0 + 7)
    with session_scope(db) as s:
        rows = s.query(AlloraBlockTime).all()
        assert [(r.network, r.height, r.unix_ts) for r in rows] == [("allora-testnet-1", H0 + 7, block_ts(H0 + 7))]

    async def second() -> int:
        offline = CachedBlockTimes(FixedBlockTimes({}), session_factory=db, network="allora-testnet-1")
        value = await offline.block_time(H0 + 7)  # served from SQLite: the inner source knows nothing
        with pytest.raises(UnknownBlockError):
            await CachedBlockTimes(FixedBlockTimes({}), session_factory=db, network="other-net").block_time(H0 + 7)
        return value

    assert asyncio.run(second()) == block_ts(H0 + 7)
    assert tendermint.requests == [H0 + 7]


def test_fixed_block_times():
    async def run() -> None:
        fixed = FixedBlockTimes({10: 1000, 11: 1005})
        assert await fixed.block_time(11) == 1005
        with pytest.raises(UnknownBlockError):
            await fixed.block_time(12)
        linear = FixedBlockTimes.linear(100, 5000, 2.5)
        assert await linear.block_time(104) == 5010

    asyncio.run(run())
