"""Composition root: build the bot's parts from ``Settings`` (used by the CLI, the daemon and the demo).

Everything with I/O is created here and passed down explicitly — no globals. ``build_app`` opens the database, the
chains and the markets; ``build_runtime`` builds the daemon with its jobs, the control state, the event bus, the
metrics, the REST API server (when ``api.enabled``) and the notifiers. The engine never imports this module.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from bot.chain.clock import ChainClock, fast_block_time
from bot.chain.connection import connect
from bot.chain.gas import GasPolicy
from bot.chain.keys import load_account
from bot.chain.papersender import PaperSender
from bot.chain.policy import SigningPolicy, rule_for
from bot.chain.sender import TxSender
from bot.config import MarketConfig, Settings
from bot.engine.account_lock import AccountLock, Holder
from bot.engine.executor import BetExecutor, SpendingCaps, require_live_ok
from bot.engine.runner import Runtime
from bot.errors import OperationalError, TemporaryError
from bot.markets.base import PredictionMarket, open_market
from bot.markets.proof import check_token
from bot.store.db import make_engine, session_factory

log = logging.getLogger(__name__)

PAPER_ACCOUNT = "0x000000000000000000000000000000000000dEaD"


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    chains: dict[str, Web3] = field(default_factory=dict)
    markets: dict[str, PredictionMarket] = field(default_factory=dict)
    account: LocalAccount | None = None
    _senders: dict[str, TxSender] = field(default_factory=dict, repr=False)
    _locks: dict[int, AccountLock] = field(default_factory=dict, repr=False)

    @property
    def live(self) -> bool:
        return self.settings.mode == "live"

    def market(self, name: str) -> PredictionMarket:
        if name not in self.markets:
            self.settings.market(name)  # raises a ConfigError naming the configured ones
            raise OperationalError(f"market {name!r} is disabled in the config")
        return self.markets[name]

    def w3_for(self, market: str) -> Web3:
        return self.chains[self.settings.market(market).chain]

    def account_address(self) -> str:
        return str(self.account.address) if self.account is not None else PAPER_ACCOUNT

    def clock(self, market: str) -> ChainClock:
        clock = ChainClock(self.w3_for(market))
        clock.sync()
        return clock

    def sender(self, market: str) -> TxSender:
        """The one transaction sender of our account on this market's chain (one nonce counter per account)."""
        if self.account is None:
            raise OperationalError("no signing key loaded: live mode needs a keystore or a key in the environment")
        cfg = self.settings.market(market)
        if cfg.chain in self._senders:
            return self._senders[cfg.chain]
        chain = self.settings.chains[cfg.chain]
        sender = TxSender(
            self.chains[cfg.chain], self.account, self.sessions, GasPolicy(self.settings.execution.gas),
            self.signing_policy(cfg.chain), chain.chain_id, self.settings.risk.max_gas_per_day_wei,
            gas_limit=self.settings.execution.gas.gas_limit,
        )
        sender.budget.spend()  # today's gas spend read once at start (folds the day's attempts), not on the first bet
        self._senders[cfg.chain] = sender
        return sender

    def signing_policy(self, chain: str) -> SigningPolicy:
        """What the signer of ``chain`` may sign: its enabled markets (``self.markets`` holds only those), each ERC-20
        market's pinned stake token proven against the chain's ``token()`` (else refused: ``OperationalError``)."""
        rules = []
        for m in self.settings.markets:
            if m.chain == chain and m.name in self.markets:
                market = self.markets[m.name]
                token = check_token(market) if market.spec.currency == "erc20" else None
                rules.append(rule_for(market, token))
        return SigningPolicy(self.settings.chains[chain].chain_id, rules, self.settings.risk.max_stake_per_bet_wei)

    def lock_account(self, role: str, market: str) -> Holder:
        """Become the one live sender of our account on ``market``'s chain (``AccountBusy``, exit 4, when another
        process is: a second daemon, or a CLI trade in flight). Held until ``release_locks`` or the process ends."""
        if self.account is None:
            raise OperationalError("no signing key loaded: live mode needs a keystore or a key in the environment")
        chain_id = self.settings.chains[self.settings.market(market).chain].chain_id
        lock = self._locks.get(chain_id)
        if lock is None:
            lock = AccountLock(self.settings.database_url, chain_id, str(self.account.address), role)
            lock.acquire()
            self._locks[chain_id] = lock
        return lock.holder

    def release_locks(self) -> None:
        for lock in self._locks.values():
            lock.release()
        self._locks.clear()

    def caps(self) -> SpendingCaps:
        return SpendingCaps(self.settings.risk.max_stake_per_bet_wei, self.settings.risk.max_stake_per_day_wei)

    def executor(self, market: str) -> Any:
        w3 = self.w3_for(market)
        clock = self.clock(market)
        block_seconds = self.settings.chains[self.settings.market(market).chain].block_seconds

        def chain_now() -> float:
            return max(float(fast_block_time(w3)), clock.now())

        if not self.live:  # paper mode is this sender; the executor and settlement do not know the mode
            paper = PaperSender(w3, self.account_address(), self.engine)
            return BetExecutor(paper, self.sessions, chain_now, self.caps(), preflight=False, owns_account=False,
                                block_seconds=block_seconds)
        sender = self.sender(market)

        holder = self.lock_account("live", market)  # the executor owns the account's intents: only the lock holder
        return BetExecutor(sender, self.sessions, chain_now, self.caps(), owner=holder.token, block_seconds=block_seconds)


def build_app(settings: Settings, *, live: bool | None = None, connect_chains: bool = True, need_key: bool | None = None) -> App:
    """Open the database, connect every chain that has an enabled market, open the market adapters.

    ``live`` overrides ``settings.mode``. Live mode loads the key (keystore or environment) and refuses mainnet without
    ``risk.confirm_mainnet``.
    """
    if live is not None:
        settings = settings.model_copy(update={"mode": "live" if live else "paper"})
    enabled: list[MarketConfig] = [m for m in settings.markets if m.enabled]
    # everything that can refuse runs before anything is written (no database file for a refused command)
    if settings.mode == "live":
        for m in enabled:
            require_live_ok("live", settings.chains[m.chain].mainnet, settings.risk.confirm_mainnet)
    account: LocalAccount | None = None
    if settings.mode == "live":
        from bot.hardening import harden_live_process

        harden_live_process(settings)  # core dumps off, not dumpable, owner-only files: before the key is read
    if need_key or (need_key is None and settings.mode == "live"):
        account = load_account(settings.wallet)
    elif settings.wallet.keystore is None:
        try:
            account = load_account(settings.wallet)
        except OperationalError:
            account = None
    chains: dict[str, Web3] = {}
    if connect_chains:
        for m in enabled:
            if m.chain not in chains:
                chains[m.chain] = connect(settings.chains[m.chain])
    engine = make_engine(settings.database_url)
    app = App(settings=settings, engine=engine, sessions=session_factory(engine), chains=chains, account=account)
    if connect_chains:
        for m in enabled:
            app.markets[m.name] = open_market(app.chains[m.chain], m)
    return app


def startup_checks(settings: Settings, app: App | None = None) -> dict[str, Any]:
    """Chain ids match, each configured address holds code and speaks its dialect (``bot.markets.proof``: recent
    rounds and our latest bets decode consistently), our account may bet there (no code unless the dialect allows
    smart wallets), funds, clock skew."""
    import time

    from bot.markets.proof import check_dialect, check_wallet, describe

    results: dict[str, Any] = {}
    app = app or build_app(settings, live=False)
    for name, market in app.markets.items():
        entry: dict[str, Any] = {}
        code = market.w3.eth.get_code(market.address)  # type: ignore[arg-type]
        if not code or bytes(code) == b"":
            raise OperationalError(f"market {name}: no contract at {market.address}")
        try:
            params = market.params(refresh=True)
            epoch = market.current_epoch()
        except TemporaryError as exc:
            raise exc
        except Exception as exc:  # noqa: BLE001 — any decoding failure means the wrong contract
            raise OperationalError(
                f"market {name}: {market.address} does not answer the {market.spec.name} dialect's getters "
                f"({type(exc).__name__}): wrong contract or wrong dialect"
            ) from None
        account = app.account.address if app.account is not None else None
        entry["dialect"] = describe(check_dialect(market, account))
        if market.spec.currency == "erc20":
            entry["token"] = check_token(market) if market.pinned_token is not None or app.live else (
                f"{market.token_address()} (not pinned: live trading refused)")
        if account is not None:
            check_wallet(market, account)
        block_ts = market.chain_time()
        skew = time.time() - block_ts
        if abs(skew) > settings.execution.max_clock_skew_seconds:
            raise OperationalError(
                f"market {name}: local clock is {skew:+.0f} s off the chain's latest block (tolerance "
                f"{settings.execution.max_clock_skew_seconds} s): fix the system clock (NTP) before betting"
            )
        entry.update(epoch=epoch, paused=params.paused, interval=params.interval_seconds,
                     min_bet_wei=params.min_bet_amount, fee_bp=params.treasury_fee_bp,
                     clock_skew_s=round(time.time() - block_ts, 3))
        if app.account is not None:
            balance = int(market.w3.eth.get_balance(app.account.address))
            gas = settings.execution.gas
            need = gas.gas_limit * int(gas.ceiling_gwei * 10**9)
            if market.spec.currency == "native":
                need += max(settings.risk.max_stake_per_bet_wei, params.min_bet_amount)
            entry["balance_wei"] = balance
            if app.live and balance < need:
                raise OperationalError(
                    f"account {app.account.address} holds {balance} wei on {name}'s chain; a bet needs up to {need} "
                    "wei (stake + gas at the ceiling)"
                )
        results[name] = entry
    return results


# -- the daemon and what runs beside it ---------------------------------------------------------------------------------
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
                  start_blocks: dict[str, int] | None = None, heartbeat_seconds: float = 30.0,
                  environ: dict[str, str] | None = None) -> Runtime:
    """The daemon and everything around it, ready to ``daemon.start()`` (``bot.engine.runner.run_until_stopped``).

    When ``api.enabled`` the API server is already listening when this returns: ``Runtime.api_url``."""
    from bot.allora.factory import build_poller
    from bot.coins import coins_of
    from bot.engine.control import Control
    from bot.engine.daemon import Daemon, MarketRuntime
    from bot.engine.health import to_plain, write_health
    from bot.engine.risk import default_limits
    from bot.events import EventBus
    from bot.metrics import Metrics
    from bot.query import QueryService
    from bot.store.db import checkpoint
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
    claim_lock = threading.Lock()  # the claim job and a claim asked for by the API / Telegram never overlap

    def reconcile_all() -> None:
        for rec in reconcilers:
            rec.reconcile()

    def claim_all() -> list[Any]:
        with claim_lock:
            return [rec.claim() for rec in reconcilers]

    bus = EventBus()
    control = Control(app.engine, bus=bus)
    coins = coins_of(app.settings)
    coins = {name: coins[name] for name in app.markets if name in coins}
    metrics = Metrics(app.markets)
    bus.subscribe(metrics.on_event)
    query = QueryService(app.engine, coins)
    daemon = Daemon(
        app.settings, runtimes, executor, poller, strategy, default_limits(app.settings.risk), app.sessions,
        chain_now, bankroll, claimer=claim_all if app.live else None, reconciler=reconcile_all,
        on_decision=on_decision, watch_interval=watch_interval, control=control, bus=bus,
        coins={name: coin.symbol for name, coin in coins.items()}, heartbeat_seconds=heartbeat_seconds,
    )

    def health() -> dict[str, Any]:
        allora: Any = getattr(poller, "health_all", lambda: {})()
        return {
            "mode": app.settings.mode, "account": executor.account, "rounds_seen": daemon.stats.rounds_seen,
            "decisions": daemon.stats.decisions, "bets": dict(daemon.stats.bets), "skips": daemon.stats.skips,
            "errors": daemon.stats.errors, "needs_human": daemon.stats.needs_human,
            "last_error": daemon.stats.last_error, "p99_latency_ms": round(daemon.stats.p99_latency() * 1000, 2),
            "heartbeats": daemon.stats.heartbeats, "last_round": dict(daemon.stats.last_round),
            "allora": {k: to_plain(v) for k, v in allora.items()} if isinstance(allora, dict) else str(allora),
        }

    def heartbeat() -> None:
        checkpoint(app.engine)
        write_health(app.settings, health())

    daemon.heartbeat_hooks.append(heartbeat)
    runtime = Runtime(daemon, poller, reconcilers, bus=bus, control=control, metrics=metrics)
    metrics.attach(_metric_sources(app, daemon, control, query, bankroll, executor.account))
    try:
        _build_notifiers(app, runtime, daemon, query, coins, environ)
        if app.settings.api.enabled:
            _start_api(app, runtime, daemon, query, coins, chain_now, bankroll, executor, health, claim_all,
                       environ)
    except BaseException:
        runtime.stop()
        raise
    return runtime


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


def _metric_sources(app: App, daemon: Any, control: Any, query: Any, bankroll: Callable[[], int],
                    account: str) -> Any:
    from bot.chain.connection import provider_of
    from bot.metrics import Sources, rpc_counts

    mode = app.settings.mode

    def pnl() -> dict[str, int]:
        return {s.mode: s.net_pnl_wei for s in query.summary()}

    def claimable() -> dict[str, int]:
        return {mode: sum(b.payout_wei for b in query.claimable(mode))}

    def state() -> tuple[str, bool]:
        status = control.read()
        return ("stopped" if not daemon.running else status.state.value), status.stop_entry

    def providers() -> list[Any]:
        out = []
        for w3 in app.chains.values():
            try:
                out.append(provider_of(w3))
            except (TypeError, ValueError):
                continue
        return out

    return Sources(
        balances=lambda: {account: bankroll()}, pnl=pnl, claimable=claimable,
        inferences=query.inference_verdict_counts, rpc=lambda: rpc_counts(providers()),
        last_round=lambda: dict(daemon.stats.last_round), state=state, up=lambda: daemon.running,
    )


class _Started:
    """Start/close a service once, whoever asks first (the CLI's ``run`` and ``Runtime.start`` both may)."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self._started = False
        self._closed = False
        self._lock = threading.Lock()

    def start(self) -> _Started:
        with self._lock:
            if not self._started and not self._closed:
                self._started = True
                self.service.start()
        return self

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.service.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)


def _build_notifiers(app: App, runtime: Runtime, daemon: Any, query: Any, coins: Any,
                     environ: dict[str, str] | None) -> None:
    """The notifiers on the daemon's bus (``Runtime.notifiers``; started by ``Runtime.start``, closed by ``stop``).
    Telegram's /claim runs the daemon's own claim job now: never a second sweep beside it."""
    from bot.notify import build_notifiers

    claim = None
    if app.live and daemon.claimer is not None:
        def claim() -> str:
            from datetime import UTC, datetime

            daemon.scheduler.modify_job("claims", next_run_time=datetime.now(UTC))
            return "claim sweep started; claims are reported when they land"

    notifiers = _Started(build_notifiers(app.settings, runtime.bus, runtime.control, query=query, claim=claim,
                                         environ=environ, coins=coins))
    runtime.notifiers = notifiers
    runtime.services.append(notifiers.close)


def _start_api(app: App, runtime: Runtime, daemon: Any, query: Any, coins: Any, chain_now: Callable[[], float],
               bankroll: Callable[[], int], executor: Any, health: Callable[[], dict[str, Any]],
               claim_all: Callable[[], list[Any]], environ: dict[str, str] | None) -> None:
    from bot.api.logbuffer import LogBuffer
    from bot.api.routes import ApiContext, DecisionBoard, create_api
    from bot.api.server import ApiServer
    from bot.engine.manual import BetOutcome, ManualBet, place_manual_bet
    from bot.redact import register

    cfg = app.settings.api
    token = (os.environ if environ is None else environ).get(cfg.token_env) or None
    register(token)  # never in a log line, whatever logs it
    if token is None:
        log.warning("api: %s is not set: the API is read-only (every state change answers 401)", cfg.token_env)
    logs = LogBuffer(cfg.log_lines).install()
    runtime.services.append(logs.uninstall)
    board = DecisionBoard()
    runtime.bus.subscribe(board.on_event)

    def place(bet: ManualBet) -> BetOutcome:
        return place_manual_bet(bet, settings=app.settings, engine=app.engine, market=app.market(bet.market),
                                executor=executor, account=executor.account, live=app.live, caps=app.caps(),
                                chain_now=chain_now, bankroll=bankroll)

    def api_health() -> dict[str, Any]:
        from bot.chain.connection import provider_of
        from bot.chain.rpc import HealthReport

        data = health()
        rpc: list[Any] = []
        for w3 in app.chains.values():
            try:
                rpc.extend(HealthReport.of(provider_of(w3)).endpoints)
            except (TypeError, ValueError):
                continue
        beat = daemon.last_heartbeat
        reachable = not rpc or any(e.get("healthy") for e in rpc)
        return {**data, "ok": bool(daemon.running and reachable), "rpc": rpc,
                "heartbeat_age_seconds": None if beat is None else time.time() - beat}

    ctx = ApiContext(
        settings=app.settings, control=runtime.control, query=query, mode=app.settings.mode,
        account=executor.account, markets=dict(app.markets), coins=coins, chain_now=chain_now, token=token,
        metrics=runtime.metrics, decisions=board, logs=logs, stats=health, health=api_health,
        running=lambda: daemon.running, place_bet=place, claim=claim_all if app.live else None,
    )
    server = ApiServer(create_api(ctx), cfg.host, cfg.port).start()
    runtime.services.append(server.stop)
    runtime.api_url = server.url
