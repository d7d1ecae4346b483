"""The demo's world: anvil devnet, our V2 market and oracle, a keeper on real BTC prices, a crowd of other bettors,
and the local Allora service emulating a BTC topic on the same price series.

Alignment (so that the Allora signal is about the round it is used for): round ``e`` locks at the close of bar
``base + e - 1`` and closes at the close of bar ``base + e``; while round ``e`` is open, the Allora service's clock
maps into the middle of bar ``base + e``, so its newest closed bar is ``base + e - 1`` and its forecast is the
log-return of bar ``base + e`` — exactly the round's outcome.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from eth_account import Account
from web3 import Web3

from devkit.alloraservice import (
    DEFAULT_PRICES,
    DEV_SIGNER_KEY,
    AlloraService,
    EnsembleGenerator,
    PriceSeries,
    ServiceConfig,
    ServiceTopic,
    serve_in_thread,
)
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.deploy import Deployment, Dialect, MarketConfig, deploy_v2
from devkit.devnet.keeper import Keeper, KeeperEvent

log = logging.getLogger(__name__)

TOPIC_ID = 14
BOT_ACCOUNT_INDEX = 5
CROWD = range(6, 12)
PRICE_DECIMALS = 8


@dataclass
class RoundClock:
    """The market's currently open epoch, as the keeper reports it (drives the Allora service's time map)."""

    epoch: int = 0
    lock_prices: dict[int, int] = field(default_factory=dict)
    events: list[KeeperEvent] = field(default_factory=list)

    def on_event(self, ev: KeeperEvent) -> None:
        self.events.append(ev)
        self.epoch = ev.epoch


@dataclass
class World:
    node: AnvilNode
    deployment: Deployment
    series: PriceSeries
    base_bar: int
    clock: RoundClock
    allora_url: str
    allora_rest_url: str
    interval: int
    bot_key: str
    stop: threading.Event
    threads: list[threading.Thread] = field(default_factory=list)
    crowd_bets: int = 0

    @property
    def bot_address(self) -> str:
        return str(Account.from_key(self.bot_key).address)

    @property
    def signer_address(self) -> str:
        return str(Account.from_key(DEV_SIGNER_KEY).address)

    def bar_price(self, epoch: int) -> float:
        return self.series.closes[self.base_bar + epoch]


def bar_index(series: PriceSeries, base_bar: int, offset: int) -> int:
    """Bar ``base_bar + offset``, wrapping round to ``base_bar`` at the end of the series (a devnet kept for days)."""
    span = len(series) - base_bar
    return base_bar + offset % span


def lock_price(series: PriceSeries, base_bar: int, epoch: int) -> int:
    """The price (8 decimals) that locks round ``epoch`` and closes round ``epoch - 1``: the close of bar
    ``base + epoch - 1``."""
    return int(round(series.closes[bar_index(series, base_bar, max(epoch, 1) - 1)] * 10**PRICE_DECIMALS))


def winning_side(series: PriceSeries, base_bar: int, epoch: int) -> str | None:
    """"bull", "bear" or None (a tie: the house takes the round) for round ``epoch``, known ahead from the series."""
    locked, closed = lock_price(series, base_bar, epoch), lock_price(series, base_bar, epoch + 1)
    return "bull" if closed > locked else "bear" if closed < locked else None


def _time_map(series: PriceSeries, base_bar: int, clock: RoundClock):  # type: ignore[no-untyped-def]
    def mapping(t: float) -> float:
        return series.open_times[bar_index(series, base_bar, max(clock.epoch, 1))] + series.bar_seconds / 2

    return mapping


def _prices(series: PriceSeries, base_bar: int, keeper: Keeper) -> Iterator[int]:
    """The keeper's next price, by the round it is about to lock (so a recovery after a missed round keeps each
    round's price); the genesis start takes none (any value)."""
    while True:
        yield lock_price(series, base_bar, keeper.current_epoch())


def _crowd(world: World, seed: int) -> None:
    """Other players: 2-4 bets a round from other accounts, sized like small real pools, leaning with momentum."""
    rng = random.Random(seed)
    w3 = Web3(Web3.HTTPProvider(world.node.url))
    market = world.deployment.market(w3)
    accounts = [world.node.accounts[i] for i in CROWD]
    done: set[int] = set()
    while not world.stop.is_set():
        try:
            epoch = int(market.functions.currentEpoch().call())
            rnd = market.functions.rounds(epoch).call()
            start, lock = int(rnd[1]), int(rnd[2])
            now = time.time()
            if epoch and epoch not in done and start and start + 1.5 <= now < lock - 4:
                done.add(epoch)
                momentum = world.bar_price(epoch - 1) - world.bar_price(max(epoch - 2, 0))
                for who in rng.sample(accounts, rng.randint(2, 4)):
                    bull = rng.random() < (0.6 if momentum > 0 else 0.4)
                    amount = int(rng.lognormvariate(-2.3, 0.8) * 10**18)
                    fn = market.functions.betBull if bull else market.functions.betBear
                    fn(epoch).transact({"from": who, "value": max(amount, 10**15), "gas": 300_000})  # type: ignore[arg-type]
                    world.crowd_bets += 1
        except Exception as exc:  # noqa: BLE001 — the crowd is scenery; it must never stop the demo
            log.warning("crowd: %s", exc)
        world.stop.wait(0.3)


Phase = Callable[[str, str], None]  # (phase name, one line for the user): start-up progress


def build_world(stack: ExitStack, *, interval: int, rounds: int | None, seed: int = 7, dialect: Dialect = "v2",
                anvil_port: int | None = None, allora_port: int = 0, crowd: bool = True,
                on_phase: Phase | None = None) -> World:
    """``dialect``: v2, or v2.1 (the BSC BTC/ETH markets' layout, reconciled without logs). ``rounds`` None: the keeper
    runs until stopped and recovers from a missed round (the persistent devnet). Fixed ports when given (0/None: free
    ones). ``on_phase`` hears each step of the start-up ("anvil", "deployed", "allora")."""
    phase = on_phase or (lambda name, line: None)
    node = stack.enter_context(AnvilNode(block_time=0.5, accounts=12, port=anvil_port))
    phase("anvil", f"anvil {node.url} (chain id {node.chain_id})")
    w3 = node.w3
    deployment = deploy_v2(
        w3,
        MarketConfig(interval_seconds=interval, buffer_seconds=max(3, interval // 3), min_bet_amount=10**15,
                     oracle_update_allowance=3600, initial_price=6_000_000_000_000, oracle_description="BTC / USD"),
        dialect=dialect,
    )
    phase("deployed", f"market {deployment.market_address} ({deployment.dialect}, {interval} s rounds)")
    series = PriceSeries.load_csv(DEFAULT_PRICES)
    base_bar = len(series) // 2  # mid June 2025; the generator has long warmed up by then
    clock = RoundClock()
    generator = EnsembleGenerator(series, time_map=_time_map(series, base_bar, clock))
    topic = ServiceTopic(TOPIC_ID, "BTC 5min log-return (demo)", "log-return", horizon_seconds=300,
                         epoch_seconds=max(1, interval // 2))
    service = AlloraService(ServiceConfig(topics=(topic,)), generator)
    running = stack.enter_context(serve_in_thread(service, port=allora_port))
    phase("allora", f"local Allora service {running.base_url}")
    stop = threading.Event()
    world = World(node, deployment, series, base_bar, clock, running.base_url, running.rest_url, interval,
                  node.private_keys[BOT_ACCOUNT_INDEX], stop)
    keeper = Keeper(Web3(Web3.HTTPProvider(node.url)), deployment, on_event=clock.on_event)
    prices = _prices(series, base_bar, keeper)
    keeper_thread = threading.Thread(
        target=_run_keeper, args=(keeper, prices if rounds is None else islice(prices, rounds + 8), stop,
                                  rounds is None),
        name="keeper", daemon=True,
    )
    world.threads = [keeper_thread]
    if crowd:
        world.threads.append(threading.Thread(target=_crowd, args=(world, seed), name="crowd", daemon=True))
    stack.callback(_stop_threads, world)
    return world


def _run_keeper(keeper: Keeper, prices: Iterator[int], stop: threading.Event, recover: bool) -> None:
    while not stop.is_set():
        try:
            keeper.run_realtime(prices, delay=0.6, stop=stop)
            return
        except Exception as exc:  # noqa: BLE001 — reported; the demo then ends cleanly, the devnet recovers
            if not recover:
                log.error("keeper stopped: %s", exc)
                return
            log.warning("keeper: %s; pausing and restarting the rounds", exc)
            try:
                keeper.pause()
                keeper.unpause()
            except Exception as again:  # noqa: BLE001 — e.g. anvil gone: try again shortly unless stopping
                log.warning("keeper: recovery failed: %s", again)
            stop.wait(1.0)


def _stop_threads(world: World) -> None:
    world.stop.set()
    for t in world.threads:
        if t.is_alive():
            t.join(timeout=world.interval + 5)


def start(world: World) -> None:
    for t in world.threads:
        t.start()


def summary(world: World) -> dict[str, Any]:
    return {"anvil": world.node.url, "market": world.deployment.market_address, "allora": world.allora_url,
            "crowd_bets": world.crowd_bets}
