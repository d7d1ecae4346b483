"""The local Allora service: consumer API, topics, emissions v9/v10 LCD routes and tendermint blocks, at the root.

It emulates one chain whose blocks come every ``block_seconds`` of the service clock; each topic produces a network
inference at every epoch boundary (``epoch_seconds``). API and chain views agree: the API timestamp of an inference is
the block time of its inference block. Values come from a pluggable ``InferenceGenerator``; API inferences are
signed with a local key using the real AlloraConsumer digest. ``Control`` scripts faults.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from eth_account import Account
from eth_utils import keccak

from bot.allora.logexport import EMULATOR_OTHER_SIGNER_SEED, EMULATOR_SIGNER_SEED
from devkit.alloraservice.control import Control, Fault, FaultKind
from devkit.alloraservice.generator import Generated, InferenceGenerator, ServiceTopic

log = logging.getLogger(__name__)
CONSUMERS = {
    11155111: "0x8E45fbef38DaC54e32AfB27AC8cBab30E6818ce6",  # Sepolia AlloraConsumer
    42161: "0xd75A47C0e5Eb0CeDF57072268F48ba971d2cD7F3",  # Arbitrum AlloraConsumer
}
# A well-known development key (like anvil's): the local service signs with it unless given another one.
DEV_SIGNER_KEY = keccak(text=EMULATOR_SIGNER_SEED)
OTHER_SIGNER_KEY = keccak(text=EMULATOR_OTHER_SIGNER_SEED)


@dataclass
class ServiceConfig:
    topics: tuple[ServiceTopic, ...]
    chain_id: str = "allora-localnet-1"
    block_seconds: float = 5.0
    genesis_time: float | None = None  # service-clock time of block genesis_height; default: 30 days before start
    genesis_height: int = 1
    api_keys: frozenset[str] | None = None  # None: any key (or none) accepted
    signer_key: bytes = DEV_SIGNER_KEY
    token_decimals: int = 18
    emissions_versions: tuple[str, ...] = ("v9", "v10")
    topics_page_size: int = 50
    consumers: dict[int, str] = field(default_factory=lambda: dict(CONSUMERS))


class AlloraService:
    """State and request handlers of the local service (framework glue is in ``app``)."""

    def __init__(
        self, config: ServiceConfig, generator: InferenceGenerator, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.generator = generator
        self.control = Control()
        self._clock = clock
        self.genesis_time = config.genesis_time if config.genesis_time is not None else clock() - 30 * 86400
        self.topics = {t.topic_id: t for t in config.topics}
        self.future_heights: set[int] = set()  # heights a FUTURE fault announced: their blocks exist "ahead of time"
        self.signer_address = str(Account.from_key(config.signer_key).address)
        warm = getattr(generator, "warm", None)
        if callable(warm):  # compute up front, not inside the first request
            warm(config.topics)

    # --- time and blocks -------------------------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self.control.offset

    def height_at(self, t: float) -> int:
        return self.config.genesis_height + max(0, math.floor((t - self.genesis_time) / self.config.block_seconds))

    def block_time(self, height: int) -> int:
        return math.floor(self.genesis_time + (height - self.config.genesis_height) * self.config.block_seconds)

    def epoch_blocks(self, topic: ServiceTopic) -> int:
        return max(1, round(topic.epoch_seconds / self.config.block_seconds))

    def inference_height(self, topic: ServiceTopic, height: int) -> int:
        """The epoch-start block at or before ``height`` (when the topic's last inference was made)."""
        epoch = self.epoch_blocks(topic)
        return max(self.config.genesis_height, (height // epoch) * epoch)

    def generate(self, topic: ServiceTopic, height: int) -> Generated:
        return self.generator.generate(topic, self.block_time(height))

    def shifted_height(self, topic: ServiceTopic, fault: Fault | None) -> int:
        """The latest inference block, moved back (STALE) or ahead (FUTURE) by a fault."""
        height = self.height_at(self.now())
        if fault is not None and fault.kind is FaultKind.STALE:
            height -= math.ceil(fault.shift_seconds / self.config.block_seconds)
        elif fault is not None and fault.kind is FaultKind.FUTURE:
            height += math.ceil(fault.shift_seconds / self.config.block_seconds)
            self.future_heights.add(self.inference_height(topic, height))
        return self.inference_height(topic, height)


@dataclass
class RunningService:
    base_url: str
    service: AlloraService

    @property
    def control(self) -> Control:
        return self.service.control

    @property
    def rest_url(self) -> str:
        """The URL for ``allora.rpc_url`` (the SDK's REST transport)."""
        return "rest+" + self.base_url


@contextmanager
def serve_in_thread(service: AlloraService, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningService]:
    """Run the service on a daemon thread; yields its base URL (port 0 picks a free port)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def start() -> None:
        from devkit.alloraservice.app import make_app

        runner = web.AppRunner(make_app(service), shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        box["runner"], box["port"] = runner, runner.addresses[0][1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except Exception as exc:  # report start failures to the caller
            box["error"] = exc
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="allora-local-service", daemon=True)
    thread.start()
    ready.wait(10)
    if "error" in box:
        raise RuntimeError(f"local Allora service failed to start: {box['error']}")
    try:
        yield RunningService(f"http://{host}:{box['port']}", service)
    finally:
        future = asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop)
        try:
            future.result(5)
        except Exception:  # shutting down: best effort
            log.debug("local Allora service: cleanup error", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@contextmanager
def serve_topics(
    topics: tuple[ServiceTopic, ...], series: Any = None, *, clock: Callable[[], float] = time.time, **config: Any
) -> Iterator[RunningService]:
    """The local Allora service for ``topics`` on a free loopback port, forecasting from ``series`` (a
    ``PriceSeries``; default: the shipped BTC candles); ``config``: any other ``ServiceConfig`` field."""
    from devkit.alloraservice.generator import EnsembleGenerator
    from devkit.alloraservice.prices import DEFAULT_PRICES, PriceSeries

    prices = series if series is not None else PriceSeries.load_csv(DEFAULT_PRICES)
    service = AlloraService(ServiceConfig(topics=topics, **config), EnsembleGenerator(prices), clock=clock)
    with serve_in_thread(service) as running:
        yield running
