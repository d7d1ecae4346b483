"""The daemon: APScheduler jobs for inference polling, per-round bet jobs timed from each round's lockTimestamp,
claim sweeps, reconciliation, and a heartbeat. Small by design: the work is done by the pieces it wires together.

On start it resolves every open intent from the chain (recovery) before it schedules anything new.

State machine (``bot.engine.control``, kept in the journal database): a bet job opens a bet only while the control
state is ``running`` without stop-entry (re-read on every bet and every watch tick, so the CLI, the API and Telegram
steer it from anywhere); reconcile and claims go on while paused. An error that needs a human
(``OperationalError``, of which ``NeedsHuman`` is the mid-run kind: the signer refused, the daily gas cap was reached)
pauses betting with the error as the reason and publishes ``NeedsHumanRaised`` — it is not counted and ignored.

Events (``bot.events``) on ``bus``: DaemonStarted/Stopped, a Decision for every round it decided (bet or skip, with the
reason), BetPlaced / BetLanded / BetFailed after the executor, RiskHalt when a halting risk limit vetoes, and
StateChanged (published by ``Control``).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from bot import events as ev
from bot.config import Settings, TopicConfig
from bot.domain import Position, Round
from bot.engine.control import Control, DaemonState
from bot.engine.decision import RiskState, decide, signal_fields
from bot.engine.executor import BetExecutor, BetRequest, BetResult, Executor
from bot.engine.risk import RiskLimit
from bot.engine.trace import BetTrace
from bot.errors import BotError, OperationalError, TemporaryError, one_line
from bot.markets.base import PredictionMarket
from bot.store import hotjournal
from bot.store.db import engine_of
from bot.store.journal import IntentState

log = logging.getLogger(__name__)
PARAMS_MAX_AGE = 10.0  # seconds between re-reads of a market's parameters by the watch job
# risk limits whose veto stops betting for a while (a RiskHalt event); the others veto one stake
HALTING_LIMITS = ("max-stake-per-day", "max-daily-loss", "pause-after-losses", "kill-switch")
FAILED_STATES = (IntentState.TOO_LATE, IntentState.REVERTED, IntentState.DROPPED, IntentState.FAILED)


def _no_mark(phase: str) -> None:
    return None


class SignalSource(Protocol):
    """The Allora poller's interface (``bot.allora.poller.Poller``): latest accepted, fresh signal for a topic
    relative to a reference price (None: no usable signal), and a poll of every topic that is due."""

    def latest_signal(self, topic_name: str, reference_price: Decimal, now: float | None = None) -> Any | None: ...

    def poll_due(self) -> Any: ...


class Decider(Protocol):
    name: str

    def decide_one(self, **fields: Any) -> Any: ...


@dataclass
class MarketRuntime:
    market: PredictionMarket
    topic: TopicConfig | None
    scheduled: set[int] = field(default_factory=set)
    reference_price: int = 0  # raw oracle units, refreshed by the watch job
    reference_at: float = 0.0
    params_at: float = float("-inf")  # monotonic time the market parameters were last read

    def refresh_reference(self) -> int:
        self.reference_price = self.market.reference_price()
        self.reference_at = time.monotonic()
        return self.reference_price

    def fresh_reference(self, max_age: float = 5.0) -> int:
        """The reference price read by the watch job (at most ``max_age`` s old), else read now."""
        if not self.reference_price or time.monotonic() - self.reference_at > max_age:
            return self.refresh_reference()
        return self.reference_price

    @property
    def name(self) -> str:
        return self.market.name


@dataclass
class Decision:
    market: str
    epoch: int
    side: Position | None
    stake_wei: int
    reason: str
    context: dict[str, Any]


@dataclass
class DaemonStats:
    started_at: float = field(default_factory=time.time)
    heartbeats: int = 0
    rounds_seen: int = 0
    decisions: int = 0
    bets: dict[str, int] = field(default_factory=dict)
    skips: int = 0
    errors: int = 0
    last_error: str = ""
    needs_human: int = 0  # errors that paused betting
    last_round: dict[str, int] = field(default_factory=dict)  # market -> newest epoch the watch job saw
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=500))

    def p99_latency(self) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def signal_summary(signal: Any) -> dict[str, Any] | None:
    """What the decision was based on, for the journal: enough to find the inference in the inference log."""
    if signal is None:
        return None
    inference = getattr(signal, "inference", None)
    return {
        "topic_id": getattr(signal, "topic_id", None),
        "p_up": getattr(signal, "p_up", None),
        "predicted_return": getattr(signal, "predicted_return", None),
        "age_seconds": getattr(signal, "age_seconds", None),
        "p_up_source": str(getattr(signal, "p_up_source", "")),
        "inference_timestamp": getattr(inference, "timestamp", None),
        "inference_source": str(getattr(inference, "source", "")),
        "inference_value": str(getattr(inference, "value", "")),
    }


class Daemon:
    def __init__(
        self,
        settings: Settings,
        markets: list[MarketRuntime],
        executor: Executor,
        signals: SignalSource | None,
        strategy: Decider,
        limits: list[RiskLimit],
        sessions: sessionmaker[Session],
        chain_now: Callable[[], float],
        bankroll: Callable[[], int],
        claimer: Callable[[], Any] | None = None,
        reconciler: Callable[[], Any] | None = None,
        on_decision: Callable[[Decision, BetResult | None], None] | None = None,
        watch_interval: float = 0.5,
        *,
        control: Control | None = None,
        bus: ev.EventBus | None = None,
        coins: Mapping[str, str] | None = None,
        on_heartbeat: Callable[[], None] | None = None,
        heartbeat_seconds: float = 30.0,
    ) -> None:
        self.settings = settings
        self.markets = markets
        self.executor = executor
        self.signals = signals
        self.strategy = strategy
        self.limits = limits
        self.sessions = sessions
        self.chain_now = chain_now
        self.bankroll = bankroll
        self.claimer = claimer
        self.reconciler = reconciler
        self.on_decision = on_decision
        self.watch_interval = watch_interval
        self.bus = bus if bus is not None else ev.EventBus()
        self._control = control  # None: made on first use, over the journal's database
        self.coins = dict(coins or {})  # market -> coin symbol, for events
        # hooks instead of monkey-patching: each runs after the heartbeat's log line / once the scheduler started
        self.heartbeat_hooks: list[Callable[[], None]] = [on_heartbeat] if on_heartbeat is not None else []
        self.started_hooks: list[Callable[[], None]] = []
        self.heartbeat_seconds = heartbeat_seconds
        self._started = False
        self.last_heartbeat: float | None = None  # unix time of the last heartbeat
        self._halts: set[str] = set()  # halting risk limits already announced (until a bet goes through)
        self.stats = DaemonStats()
        self.scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        self._stopped = threading.Event()
        self._jobs = threading.Condition()  # guards _running_jobs and the stop decision
        self._running_jobs = 0
        self._lock = threading.Lock()
        self._chain_offset: tuple[float, float] | None = None  # (chain time - wall time, monotonic time of the read)

    # -- lifecycle ----------------------------------------------------------------------------------------------------
    def recover(self) -> list[BetResult]:
        if isinstance(self.executor, BetExecutor):
            results = self.executor.recover({m.name: m.market for m in self.markets})
            for r in results:
                log.info("recovered intent %s: %s %s", r.intent_id, r.state.value, r.reason)
            return results
        return []

    def drive_handed_over(self) -> None:
        if isinstance(self.executor, BetExecutor):
            for result in self.executor.drive_handed_over({m.name: m.market for m in self.markets}):
                self.stats.bets[result.state.value] = self.stats.bets.get(result.state.value, 0) + 1

    @property
    def control(self) -> Control:
        if self._control is None:
            self._control = Control(engine_of(self.sessions), bus=self.bus)
        return self._control

    @property
    def running(self) -> bool:
        return self._started and not self._stopped.is_set()

    def start(self) -> None:
        self._started = True
        self.control.mark_started()
        self.recover()
        gc.freeze()  # long-lived startup objects leave the collector's generations: shorter GC passes later
        if self.signals is not None and any(m.topic is not None for m in self.markets):
            # the poller keeps each topic's own cadence (poll_seconds) and backoff; this job only wakes it
            self.scheduler.add_job(
                self._safe, "interval", args=[self.signals.poll_due], seconds=1.0, id="poll",
                next_run_time=datetime.now(UTC),
            )
        self.scheduler.add_job(
            self._safe, "interval", args=[self.watch_rounds], seconds=self.watch_interval, id="watch",
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(self._safe, "interval", args=[self.heartbeat], seconds=self.heartbeat_seconds,
                               id="heartbeat")
        if isinstance(self.executor, BetExecutor):
            # manual bets handed over by `bet --live` while we hold the account: same caps, same lifecycle
            self.scheduler.add_job(
                self._safe, "interval", args=[self.drive_handed_over], seconds=self.watch_interval, id="handover",
            )
        if self.claimer is not None:
            self.scheduler.add_job(
                self._safe, "interval", args=[self.claimer], seconds=self.settings.execution.claim_interval_seconds,
                id="claims",
            )
        if self.reconciler is not None:
            self.scheduler.add_job(
                self._safe, "interval", args=[self.reconciler],
                seconds=max(2.0, self.settings.execution.claim_interval_seconds / 2), id="reconcile",
            )
        self.scheduler.start()
        log.info("daemon started: %d market(s), mode %s", len(self.markets), self.executor.mode)
        self.bus.publish(ev.DaemonStarted(mode=self.executor.mode, account=self.executor.account,
                                          markets=tuple(m.name for m in self.markets)))
        for hook in list(self.started_hooks):
            self._run_job(hook)

    def stop(self, timeout: float = 60.0) -> None:
        """No job starts any more; the jobs in flight finish (a bet being sent completes); then the daemon is stopped.

        Not ``scheduler.shutdown(wait=True)``: APScheduler 3 holds its job-store lock while it waits for running jobs,
        and the watch job adds bet jobs, so a SIGTERM during a watch tick deadlocked the daemon."""
        with self._jobs:
            if self._stopped.is_set():
                return
            self._stopped.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # no lock held while the jobs in flight finish
            with self._jobs:
                if not self._jobs.wait_for(lambda: self._running_jobs == 0, timeout):
                    log.warning("daemon stop: %d job(s) still running after %.0f s", self._running_jobs, timeout)
        try:
            self.control.mark_stopped()
        except Exception as exc:  # noqa: BLE001 — stopping goes on without the record
            log.warning("daemon stop: control state not recorded (%s)", one_line(exc))
        log.info("daemon stopped")
        self.bus.publish(ev.DaemonStopped(reason="stopped"))

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def _safe(self, fn: Callable[..., Any], *args: Any) -> None:
        """Jobs never crash the scheduler: errors are counted and logged with their class. Once the daemon is
        stopping, a job that has not started yet does not run; those running are counted until they end."""
        with self._jobs:
            if self._stopped.is_set():
                return
            self._running_jobs += 1
        try:
            self._run_job(fn, *args)
        finally:
            with self._jobs:
                self._running_jobs -= 1
                self._jobs.notify_all()

    def _run_job(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except OperationalError as exc:  # NeedsHuman and its kin: pause betting and say so, never count and go on
            self.needs_human(exc, market=args[0].name if args and isinstance(args[0], MarketRuntime) else "")
        except BotError as exc:
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("job %s: %s", getattr(fn, "__name__", fn), self.stats.last_error)
        except Exception as exc:  # noqa: BLE001 — a job must never take the daemon down
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("job %s failed", getattr(fn, "__name__", fn))

    def needs_human(self, exc: BaseException, market: str = "") -> None:
        """Pause betting with ``exc`` as the reason and publish ``NeedsHumanRaised`` (the state change is published
        by ``Control``). If even the pause cannot be recorded, the daemon stops: it must not go on betting."""
        message = one_line(exc)
        self.stats.needs_human += 1
        self.stats.last_error = f"{type(exc).__name__}: {message}"
        try:
            current = self.control.read()
            if current.state is DaemonState.PAUSED and current.reason == message:
                log.debug("needs a human (already paused for it): %s", message)
                return  # the same error again (a job that keeps failing): one pause, one notification
        except Exception:  # noqa: BLE001, S110 — the pause below is tried anyway
            pass
        log.error("needs a human%s: %s — betting paused until `resume`", f" ({market})" if market else "", message)
        try:
            self.control.pause(message, by="daemon")
        except Exception as err:  # noqa: BLE001 — cannot record the pause: stop betting the hard way
            log.critical("cannot record the pause (%s): stopping the daemon", one_line(err))
            threading.Thread(target=self.stop, name="daemon-stop", daemon=True).start()
        self.bus.publish(ev.NeedsHumanRaised(message=message, market=market))

    @property
    def state(self) -> DaemonState:
        return DaemonState.STOPPED if self._stopped.is_set() else self.control.read().state

    def heartbeat(self) -> None:
        self.stats.heartbeats += 1
        self.last_heartbeat = time.time()
        log.info(
            "heartbeat: rounds %d, decisions %d, bets %s, skips %d, errors %d, p99 latency %.1f ms",
            self.stats.rounds_seen, self.stats.decisions, self.stats.bets, self.stats.skips, self.stats.errors,
            self.stats.p99_latency() * 1000,
        )
        for hook in list(self.heartbeat_hooks):
            self._run_job(hook)

    # -- scheduling ---------------------------------------------------------------------------------------------------
    def lead_seconds(self) -> float:
        """Configured lead plus the measured p99 decision latency."""
        return self.settings.execution.lead_seconds + self.stats.p99_latency()

    def sync_chain_clock(self) -> None:
        """Measure chain time - wall time once (one daemon, one chain) for ``chain_estimate``. Run by the watch job."""
        try:
            self._chain_offset = (self.chain_now() - time.time(), time.monotonic())
        except TemporaryError as exc:
            log.debug("chain clock not synced (%s)", exc)

    def prepare(self, rt: MarketRuntime) -> None:
        """Keep what the bet path reads from caches fresh (reference price, market parameters, fee suggestion), so
        the bet job makes no RPC for them. Run by the watch job; a failure here only means the bet job reads them."""
        try:
            if rt.topic is not None:
                rt.refresh_reference()
            if time.monotonic() - rt.params_at > PARAMS_MAX_AGE:  # fee, min bet, paused can change by admin call
                rt.market.params(refresh=True)
                rt.params_at = time.monotonic()
            self.executor.prepare()
        except (TemporaryError, ValueError) as exc:
            log.debug("%s: could not refresh caches (%s)", rt.name, exc)

    def chain_estimate(self, max_age: float = 2.0) -> float:
        """Chain time for the strategy's ``seconds_to_lock``: wall clock + the offset the watch job measured (no RPC)
        when that is under ``max_age`` s old, else read now. The executor's send guard always reads the chain."""
        if self._chain_offset is not None and time.monotonic() - self._chain_offset[1] < max_age:
            return time.time() + self._chain_offset[0]
        return self.chain_now()

    def watch_rounds(self) -> None:
        self.sync_chain_clock()
        try:
            self.control.refresh()  # a pause / resume made by another process is seen (and published) here
        except Exception as exc:  # noqa: BLE001 — the bet job reads it again before betting
            log.debug("control state not read (%s)", one_line(exc))
        for rt in self.markets:
            try:
                epoch = rt.market.current_epoch()
            except TemporaryError as exc:
                log.warning("%s: cannot read current epoch (%s)", rt.name, exc)
                continue
            self.stats.last_round[rt.name] = epoch
            self.prepare(rt)
            if epoch == 0 or epoch in rt.scheduled:
                continue
            rnd = rt.market.round(epoch)
            if not rnd.started:
                continue
            with self._lock:
                if epoch in rt.scheduled:
                    continue
                rt.scheduled.add(epoch)
                for old in [e for e in rt.scheduled if e < epoch - 50]:
                    rt.scheduled.discard(old)
            self.stats.rounds_seen += 1
            fire_chain = rnd.lock_timestamp - self.lead_seconds()
            now_chain = self.chain_now()
            delay = fire_chain - now_chain
            if now_chain >= rnd.lock_timestamp - 1:
                continue
            run_at = datetime.fromtimestamp(time.time() + max(0.0, delay), UTC)
            self.scheduler.add_job(
                self._safe, "date", args=[self.bet_job, rt, epoch], run_date=run_at, id=f"bet:{rt.name}:{epoch}",
                replace_existing=True, misfire_grace_time=max(1, int(self.settings.execution.lead_seconds)),
            )
            log.debug("%s epoch %d: bet job in %.2fs (lock %d)", rt.name, epoch, delay, rnd.lock_timestamp)

    # -- the bet job --------------------------------------------------------------------------------------------------
    def _journal_snapshot(self, market: str, epoch: int) -> tuple[bool, tuple[int, int, int]]:
        """(an intent exists for this round, (staked today, realised PnL today, consecutive losses))."""
        snap = hotjournal.risk_snapshot(engine_of(self.sessions), market, epoch, self.executor.account, self.executor.mode)
        return snap.intent is not None, snap.stats

    def bet_job(self, rt: MarketRuntime, epoch: int) -> BetResult | None:
        fired = time.perf_counter()
        # no cyclic-GC pause between the trigger and the hand-off (a gen-2 pass can take tens of ms); the collector
        # runs again right after this job
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._bet(rt, epoch, fired)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _bet(self, rt: MarketRuntime, epoch: int, fired: float) -> BetResult | None:
        trace = BetTrace(fired)
        control = self.control.refresh()  # one indexed read: the state as of now, whoever changed it
        trace.mark("control")
        if not control.entries_allowed:
            what = "stop-entry" if control.state is DaemonState.RUNNING else f"daemon {control.state.value}"
            reason = f"{what}: {control.reason}" if control.reason else what
            self.stats.skips += 1
            log.info("%s epoch %d: skip (%s, by %s)", rt.name, epoch, reason, control.by or "?")
            self._publish_decision(rt.name, epoch, None, 0, reason, None)
            return None
        # one thread, in order: overlapping these short steps on helper threads measured slower (GIL hand-offs)
        exists, stats = self._journal_snapshot(rt.name, epoch)
        trace.mark("journal-read")
        if exists:
            log.info("%s epoch %d: already have an intent (manual or earlier): not betting again", rt.name, epoch)
            return None
        rnd = rt.market.round(epoch)
        trace.mark("round-read")
        decision = self.decide(rt, rnd, stats, trace)
        self.stats.decisions += 1
        p_up = decision.context.get("p_up")
        p_up = None if not isinstance(p_up, float) or p_up != p_up else p_up
        if decision.side is None or decision.stake_wei <= 0:
            self.stats.skips += 1
            log.info("%s epoch %d: skip (%s)", rt.name, epoch, decision.reason)
            self._publish_decision(rt.name, epoch, None, 0, decision.reason, p_up)
            self._risk_halt(rt.name, decision.reason)
            if self.on_decision:
                self.on_decision(decision, None)
            return None
        self._halts.clear()
        self._publish_decision(rt.name, epoch, decision.side, decision.stake_wei, decision.reason, p_up)
        req = BetRequest(
            market=rt.market, epoch=epoch, position=decision.side, amount=decision.stake_wei,
            lock_ts=rnd.lock_timestamp, start_ts=rnd.start_timestamp, strategy=self.strategy.name,
            decision=decision.context, fired_at=fired, trace=trace,
        )
        try:
            result: BetResult = self.executor.place(req)
        except OperationalError as exc:  # needs a human (the job wrapper pauses); the bet failed
            self.bus.publish(ev.BetFailed(market=rt.name, epoch=epoch, intent_id=None, state="failed",
                                          reason=one_line(exc)))
            raise
        if result.phases:
            log.debug("%s epoch %d: hot path %s (ms)", rt.name, epoch, trace.describe())
        if result.latency is not None and result.state in (IntentState.LANDED, IntentState.SENT, IntentState.PAPER):
            self.stats.latencies.append(result.latency)
        self.stats.bets[result.state.value] = self.stats.bets.get(result.state.value, 0) + 1
        log.info(
            "%s epoch %d: %s %d wei -> %s %s", rt.name, epoch, decision.side.label, decision.stake_wei,
            result.state.value, result.reason,
        )
        self._publish_result(rt.name, epoch, decision, result)
        if self.on_decision:
            self.on_decision(decision, result)
        return result

    # -- events -------------------------------------------------------------------------------------------------------
    def _publish_decision(self, market: str, epoch: int, side: Position | None, amount: int, reason: str,
                          p_up: float | None) -> None:
        self.bus.publish(ev.Decision(
            market=market, epoch=epoch, action="skip" if side is None else "bet",
            side=None if side is None else side.label, amount_wei=amount, coin=self.coins.get(market, ""),
            reason=reason, p_up=p_up, mode=self.executor.mode,
        ))

    def _risk_halt(self, market: str, reason: str) -> None:
        limit = reason.removeprefix("risk ").split(":", 1)[0] if reason.startswith("risk ") else ""
        if limit in HALTING_LIMITS and limit not in self._halts:
            self._halts.add(limit)
            self.bus.publish(ev.RiskHalt(reason=reason, market=market))

    def _publish_result(self, market: str, epoch: int, decision: Decision, result: BetResult) -> None:
        if result.duplicate:
            return
        side = decision.side.label if decision.side is not None else ""
        coin = self.coins.get(market, "")
        if result.state in FAILED_STATES:
            self.bus.publish(ev.BetFailed(market=market, epoch=epoch, intent_id=result.intent_id,
                                          state=result.state.value, reason=result.reason))
            return
        self.bus.publish(ev.BetPlaced(market=market, epoch=epoch, side=side, amount_wei=decision.stake_wei, coin=coin,
                                      intent_id=result.intent_id, mode=self.executor.mode, state=result.state.value))
        if result.state in (IntentState.LANDED, IntentState.PAPER):
            gas = 0
            if result.state is IntentState.LANDED and result.intent_id is not None:
                gas = hotjournal_gas(self.sessions, result.intent_id)
            self.bus.publish(ev.BetLanded(market=market, epoch=epoch, intent_id=result.intent_id, tx=result.tx_hash,
                                          gas_cost_wei=gas, amount_wei=decision.stake_wei, coin=coin,
                                          latency_seconds=result.latency))

    def decide(
        self, rt: MarketRuntime, rnd: Round, stats: tuple[int, int, int] | None = None, trace: BetTrace | None = None
    ) -> Decision:
        """The strategy's decision for ``rnd`` after the risk limits (``stats``: journal figures already read), by the
        one decision path ``bot.engine.decision.decide`` the backtest shares."""
        mark = trace.mark if trace is not None else _no_mark
        params = rt.market.params()
        mark("params")
        now = self.chain_estimate()
        mark("chain-clock")
        signal = None
        reference = Decimal(0)
        if rt.topic is not None and self.signals is not None:
            try:
                ref_raw = rt.fresh_reference()
                reference = Decimal(ref_raw).scaleb(-rt.market.spec.price_decimals)
            except (TemporaryError, ValueError) as exc:
                log.warning("%s: no reference price (%s)", rt.name, exc)
            mark("reference")
            signal = self.signals.latest_signal(rt.topic.name, reference, time.time())
            mark("signal")
        ai_direction = 0
        if rnd.ai_price is not None and reference:
            ref_raw = rt.fresh_reference()
            ai_direction = (rnd.ai_price > ref_raw) - (rnd.ai_price < ref_raw)
        bankroll = self.bankroll()
        ctx: dict[str, Any] = {
            "epoch": rnd.epoch,
            **signal_fields(signal),
            "bull_pool_wei": rnd.bull_amount,
            "bear_pool_wei": rnd.bear_amount,
            "fee_bp": params.treasury_fee_bp,
            "seconds_to_lock": rnd.lock_timestamp - now,
            "bankroll_wei": bankroll,
            "min_bet_wei": params.min_bet_amount,
            "ai_direction": ai_direction,
        }

        def risk_state() -> RiskState:
            figures = stats if stats is not None else self._journal_snapshot(rt.name, rnd.epoch)[1]
            return RiskState(*figures)

        verdict = decide(self.strategy, self.limits, ctx, market=rt.name, total_pool_wei=rnd.total_amount,
                         params=params, state=risk_state, mark=mark)
        side, stake, reason = verdict.side, verdict.stake_wei, verdict.reason
        ctx["signal"] = signal_summary(signal)
        return Decision(rt.name, rnd.epoch, side, stake, reason, ctx)


def hotjournal_gas(sessions: sessionmaker[Session], intent_id: int) -> int:
    """The gas a landed intent paid (0 when unknown): one read, after the bet path is done."""
    from bot.store.journal import Intent

    try:
        with sessions() as session:
            intent = session.get(Intent, intent_id)
            return int(intent.gas_cost_wei or 0) if intent is not None else 0
    except Exception as exc:  # noqa: BLE001 — an event detail, never worth failing the job
        log.debug("gas of intent %d not read (%s)", intent_id, one_line(exc))
        return 0
