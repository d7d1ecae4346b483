"""Prometheus metrics of a running bot, on a registry of its own (never the process-global one).

Fed two ways: the daemon's ``EventBus`` (counters and the latency histogram move as events arrive: cheap, in the
publisher's thread) and cheap reads at scrape time (balance, PnL, claimable, inference verdicts, RPC endpoint counters,
last round, daemon state), each cached for ``cache_seconds`` so a fast scraper cannot load the database or the RPC.

Metric names (the Grafana dashboard in ``deploy/grafana/`` uses exactly these; a test checks it):

- ``allora_bot_bets_total{market,outcome}``: intended (a bet decided), sent, landed (a paper fill too: paper bets
  go through the same lifecycle), too-late, reverted, dropped, failed, skipped; paper (old-style paper rows)
- ``allora_bot_skips_total{market,reason}``: skipped rounds by reason (the strategy's reason label, ``risk <limit>``,
  ``paused``, ``stop-entry``)
- ``allora_bot_bet_latency_seconds`` (histogram): trigger -> raw transaction handed to the RPC (paper: -> fill)
- ``allora_bot_needs_human_total``, ``allora_bot_risk_halts_total{market}``, ``allora_bot_state_changes_total{state}``
- ``allora_bot_balance_wei{account}``, ``allora_bot_realised_pnl_wei{mode}``, ``allora_bot_claimable_wei{mode}``
- ``allora_bot_inferences_total{verdict}``: the inference log by verdict (accepted or the rejection reason)
- ``allora_bot_rpc_requests_total{endpoint,result}`` (ok / failed) and ``allora_bot_rpc_failovers_total{endpoint}``
  (a failed request moved on to the next endpoint or a retry), read from the failover provider's endpoint health
- ``allora_bot_last_round{market}``: newest epoch seen; ``allora_bot_daemon_state{state}`` (1 for the current state),
  ``allora_bot_stop_entry`` (1 when set), ``allora_bot_up`` (1 while the daemon runs)

Amounts are in wei (Prometheus values are floats: exact to ~2**53 wei; divide by 1e18 for coins in dashboards).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot import events as ev
from bot.errors import one_line

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "allora_bot_"
OUTCOMES = ("intended", "paper", "sent", "landed", "too-late", "reverted", "dropped", "failed", "skipped")
STATES = ("running", "paused", "stopped")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)
# every metric name a scrape shows (samples, with the _total / _bucket suffixes): the Grafana test checks against it
METRIC_NAMES = (
    "allora_bot_bets_total", "allora_bot_skips_total", "allora_bot_bet_latency_seconds_bucket",
    "allora_bot_bet_latency_seconds_sum", "allora_bot_bet_latency_seconds_count", "allora_bot_needs_human_total",
    "allora_bot_risk_halts_total", "allora_bot_state_changes_total", "allora_bot_balance_wei",
    "allora_bot_realised_pnl_wei", "allora_bot_claimable_wei", "allora_bot_inferences_total",
    "allora_bot_rpc_requests_total", "allora_bot_rpc_failovers_total", "allora_bot_last_round",
    "allora_bot_daemon_state", "allora_bot_stop_entry", "allora_bot_up",
)


def skip_label(reason: str) -> str:
    """A bounded label for a skip reason: the strategy's label without its numbers (``"edge below min (edge=0.01)"``
    -> ``"edge below min"``), ``risk <limit>`` for a risk veto, ``paused`` / ``stop-entry`` for the control state."""
    text = reason.strip()
    if text.startswith("risk "):
        return text.split(":", 1)[0][:48]
    if text.startswith("daemon "):
        return text.removeprefix("daemon ").split(":", 1)[0][:48]
    if text.startswith("stop-entry"):
        return "stop-entry"
    if text.startswith("skip:"):
        return text.split(" (", 1)[0][:48]
    return text.split(" (", 1)[0].split(":", 1)[0][:48] or "unknown"


def rpc_counts(providers: Iterable[Any]) -> list[tuple[str, int, int]]:
    """(endpoint with credentials masked, ok, failures) of every failover provider's endpoints (read only)."""
    from bot.redact import redact_url

    return [(redact_url(h.url), int(h.ok), int(h.failures)) for p in providers for h in getattr(p, "health", [])]


@dataclass
class Sources:
    """Scrape-time reads (each may be None: its metric is then absent). Every callable must be cheap or cached."""

    balances: Callable[[], Mapping[str, int]] | None = None  # account -> wei
    pnl: Callable[[], Mapping[str, int]] | None = None  # mode -> realised net PnL, wei
    claimable: Callable[[], Mapping[str, int]] | None = None  # mode -> wei
    inferences: Callable[[], Mapping[str, int]] | None = None  # verdict -> count
    rpc: Callable[[], Iterable[tuple[str, int, int]]] | None = None  # (endpoint, ok, failures)
    last_round: Callable[[], Mapping[str, int]] | None = None  # market -> epoch
    state: Callable[[], tuple[str, bool]] | None = None  # (daemon state, stop-entry)
    up: Callable[[], bool] | None = None


@dataclass
class _Cached:
    fn: Callable[[], Any]
    seconds: float
    at: float = float("-inf")
    value: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> Any:
        with self.lock:
            if time.monotonic() - self.at >= self.seconds:
                try:
                    self.value = self.fn()
                except Exception as exc:  # noqa: BLE001 — a failing read leaves its metric out of this scrape
                    log.debug("metrics read failed: %s", one_line(exc))
                    self.value = None
                self.at = time.monotonic()
            return self.value


class _ReadCollector(Collector):
    def __init__(self, sources: Sources, cache_seconds: float) -> None:
        self._cached = {name: _Cached(fn, 0.0 if name in ("state", "up", "last_round") else cache_seconds)
                        for name in ("balances", "pnl", "claimable", "inferences", "rpc", "last_round", "state", "up")
                        if (fn := getattr(sources, name)) is not None}

    def _read(self, name: str) -> Any:
        cached = self._cached.get(name)
        return None if cached is None else cached.get()

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only (no read when the collector is registered)

    def collect(self) -> Iterator[Metric]:
        yield from self._gauge("balance_wei", "Account balance (wei) on the market's chain", "account",
                               self._read("balances"))
        yield from self._gauge("realised_pnl_wei", "Realised net PnL of settled bets (wei), per mode", "mode",
                               self._read("pnl"))
        yield from self._gauge("claimable_wei", "Won or refundable, not claimed yet (wei), per mode", "mode",
                               self._read("claimable"))
        yield from self._gauge("last_round", "Newest epoch the daemon saw, per market", "market",
                               self._read("last_round"))
        verdicts = self._read("inferences")
        if verdicts is not None:
            fam = CounterMetricFamily(PREFIX + "inferences", "Inferences logged, by verdict", labels=["verdict"])
            for verdict, count in sorted(verdicts.items()):
                fam.add_metric([verdict], float(count))
            yield fam
        rpc = self._read("rpc")
        if rpc is not None:
            requests = CounterMetricFamily(PREFIX + "rpc_requests", "RPC requests per endpoint and result",
                                           labels=["endpoint", "result"])
            failovers = CounterMetricFamily(PREFIX + "rpc_failovers",
                                            "Failed RPC requests moved on to another endpoint or a retry",
                                            labels=["endpoint"])
            for endpoint, ok, failed in rpc:
                requests.add_metric([endpoint, "ok"], float(ok))
                requests.add_metric([endpoint, "failed"], float(failed))
                failovers.add_metric([endpoint], float(failed))
            yield requests
            yield failovers
        state = self._read("state")
        if state is not None:
            current, stop_entry = state
            states = GaugeMetricFamily(PREFIX + "daemon_state", "Daemon control state (1 = current)",
                                       labels=["state"])
            for name in STATES:
                states.add_metric([name], 1.0 if name == current else 0.0)
            yield states
            yield GaugeMetricFamily(PREFIX + "stop_entry", "1 while stop-entry is set (no new bets)",
                                    value=1.0 if stop_entry else 0.0)
        up = self._read("up")
        if up is not None:
            yield GaugeMetricFamily(PREFIX + "up", "1 while the daemon runs", value=1.0 if up else 0.0)

    @staticmethod
    def _gauge(name: str, doc: str, label: str, values: Mapping[str, int] | None) -> Iterator[Metric]:
        if values is None:
            return
        fam = GaugeMetricFamily(PREFIX + name, doc, labels=[label])
        for key, value in sorted(values.items()):
            fam.add_metric([str(key)], float(value))
        yield fam


class Metrics:
    """The bot's metrics: subscribe ``on_event`` to the bus, attach scrape-time ``Sources``, serve ``render()``."""

    def __init__(self, markets: Iterable[str] = (), *, sources: Sources | None = None,
                 cache_seconds: float = 5.0) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.bets = Counter(PREFIX + "bets", "Bets by outcome (intended, paper, sent, landed, too-late, reverted, "
                            "dropped, failed; skipped rounds)", ["market", "outcome"], registry=r)
        self.skips = Counter(PREFIX + "skips", "Skipped rounds by reason", ["market", "reason"], registry=r)
        self.latency = Histogram(PREFIX + "bet_latency_seconds", "Bet path: trigger -> raw transaction handed to the "
                                 "RPC (paper: -> fill)", buckets=LATENCY_BUCKETS, registry=r)
        self.needs_human = Counter(PREFIX + "needs_human", "Errors that needed a human (betting paused)", registry=r)
        self.risk_halts = Counter(PREFIX + "risk_halts", "Halting risk-limit vetoes", ["market"], registry=r)
        self.state_changes = Counter(PREFIX + "state_changes", "Daemon control state changes, by new state",
                                     ["state"], registry=r)
        for market in markets:
            for outcome in OUTCOMES:
                self.bets.labels(market, outcome)
            for reason in ("paused", "stop-entry"):  # the control state's reasons: shown at 0 from the start
                self.skips.labels(market, reason)
            self.risk_halts.labels(market)
        for state in STATES:
            self.state_changes.labels(state)
        self._reads: _ReadCollector | None = None
        self.cache_seconds = cache_seconds
        if sources is not None:
            self.attach(sources)

    def attach(self, sources: Sources) -> None:
        """Set (or replace) the scrape-time reads."""
        if self._reads is not None:
            self.registry.unregister(self._reads)
        self._reads = _ReadCollector(sources, self.cache_seconds)
        self.registry.register(self._reads)

    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.Decision):
            if event.action == "bet":
                self.bets.labels(event.market, "intended").inc()
            else:
                self.bets.labels(event.market, "skipped").inc()
                self.skips.labels(event.market, skip_label(event.reason)).inc()
        elif isinstance(event, ev.BetPlaced):
            if event.state not in ("landed", "paper"):  # those come as BetLanded
                self.bets.labels(event.market, event.state).inc()
        elif isinstance(event, ev.BetLanded):
            self.bets.labels(event.market, "landed").inc()
            if event.latency_seconds is not None:
                self.latency.observe(event.latency_seconds)
        elif isinstance(event, ev.BetFailed):
            self.bets.labels(event.market, event.state if event.state in OUTCOMES else "failed").inc()
        elif isinstance(event, ev.NeedsHumanRaised):
            self.needs_human.inc()
        elif isinstance(event, ev.RiskHalt):
            self.risk_halts.labels(event.market).inc()
        elif isinstance(event, ev.StateChanged):
            self.state_changes.labels(event.new).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
