"""Wire a daemon from settings: markets, executor, Allora poller, strategy, risk limits, reconciler, health file."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.app import App
from bot.chain.clock import ChainClock, fast_block_time
from bot.engine.daemon import Daemon, MarketRuntime
from bot.engine.health import to_plain, write_health
from bot.engine.risk import default_limits
from bot.errors import OperationalError

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    daemon: Daemon
    poller: Any
    reconcilers: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        self.daemon.stop()
        close = getattr(self.poller, "close", None) or getattr(getattr(self.poller, "source", None), "close", None)
        if callable(close):
            close()


def build_reconcilers(app: App, start_blocks: dict[str, int] | None = None) -> list[Any]:
    """One reconciler per chain; live mode claims with our key, paper mode settles simulated fills only."""
    from bot.reconcile.reconciler import Reconciler, ReconcileSettings

    by_chain: dict[str, list[str]] = {}
    for name in app.markets:
        by_chain.setdefault(app.settings.market(name).chain, []).append(name)
    out = []
    for names in by_chain.values():
        markets = [app.markets[n] for n in names]
        settings = ReconcileSettings.from_execution(app.settings.execution)
        if start_blocks:
            settings.start_blocks = {k: v for k, v in start_blocks.items() if k in names}
        if app.live:
            sender = app.sender(names[0])
            out.append(Reconciler(app.sessions, markets, senders={sender.address: sender}, settings=settings))
        else:
            out.append(Reconciler(app.sessions, markets, settings=settings))
    return out


def build_runtime(app: App, *, poller: Any = None, strategy: Any = None, clock: Callable[[], float] = time.time,
                  on_decision: Callable[..., None] | None = None, watch_interval: float = 0.5,
                  start_blocks: dict[str, int] | None = None) -> Runtime:
    from bot.allora.factory import build_poller
    from strategies.registry import load_strategy

    if not app.markets:
        raise OperationalError("no enabled market in the config")
    chains = {app.settings.market(n).chain for n in app.markets}
    if len(chains) != 1:
        raise OperationalError("one daemon per chain: run one process per chain config")
    first = next(iter(app.markets))
    w3 = app.w3_for(first)
    chain_clock = ChainClock(w3)
    chain_clock.sync()

    def chain_now() -> float:
        return max(float(fast_block_time(w3)), chain_clock.now())

    if app.live:
        app.lock_account("daemon", first)  # one live sender per account: a second daemon refuses (exit 4)
    executor = app.executor(first)
    if poller is None:
        poller = build_poller(app.settings, app.sessions, clock=clock)
    strategy = strategy or load_strategy(app.settings.strategy)
    runtimes = []
    for name, market in app.markets.items():
        cfg = app.settings.market(name)
        topic = app.settings.topic(cfg.topic) if cfg.topic else None
        runtimes.append(MarketRuntime(market, topic))
    bankroll = _bankroll_fn(app, first)
    reconcilers = build_reconcilers(app, start_blocks)

    def reconcile_all() -> None:
        for rec in reconcilers:
            rec.reconcile()

    def claim_all() -> None:
        for rec in reconcilers:
            rec.claim()

    daemon = Daemon(
        app.settings, runtimes, executor, poller, strategy, default_limits(app.settings.risk), app.sessions,
        chain_now, bankroll, claimer=claim_all if app.live else None, reconciler=reconcile_all,
        on_decision=on_decision, watch_interval=watch_interval,
    )
    original_heartbeat = daemon.heartbeat

    def heartbeat() -> None:
        original_heartbeat()
        from bot.store.db import checkpoint

        checkpoint(app.engine)
        health: Any = getattr(poller, "health_all", lambda: {})()
        write_health(app.settings, {
            "mode": app.settings.mode, "account": executor.account, "rounds_seen": daemon.stats.rounds_seen,
            "decisions": daemon.stats.decisions, "bets": daemon.stats.bets, "skips": daemon.stats.skips,
            "errors": daemon.stats.errors, "last_error": daemon.stats.last_error,
            "p99_latency_ms": round(daemon.stats.p99_latency() * 1000, 2),
            "allora": {k: to_plain(v) for k, v in health.items()} if isinstance(health, dict) else str(health),
        })

    daemon.heartbeat = heartbeat  # type: ignore[method-assign]
    return Runtime(daemon, poller, reconcilers)


def _bankroll_fn(app: App, market: str) -> Callable[[], int]:
    if not app.live:
        paper = app.settings.execution.paper_bankroll_wei
        return lambda: paper
    w3 = app.w3_for(market)
    account = app.account_address()
    cache = {"at": 0.0, "value": 0}
    lock = threading.Lock()

    def bankroll() -> int:
        with lock:
            if time.monotonic() - cache["at"] > 5.0:
                cache["value"] = int(w3.eth.get_balance(account))  # type: ignore[arg-type]
                cache["at"] = time.monotonic()
            return int(cache["value"])

    return bankroll


def run_until_stopped(runtime: Runtime, *, max_rounds: int | None = None, install_signals: bool = True) -> None:
    """Start the daemon and block until SIGINT/SIGTERM (clean stop) or ``max_rounds`` rounds were seen."""
    stop = threading.Event()
    if install_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    runtime.daemon.start()
    try:
        while not stop.wait(0.5):
            if max_rounds is not None and runtime.daemon.stats.rounds_seen > max_rounds:
                break
    finally:
        runtime.stop()
