"""``python main.py demo``: the whole bot on a local devnet — see ``devkit.demo.world`` for the scenery.

The bot daemon bets live (a funded dev account) on our V2 market from the local Allora service's signed inferences,
reconciles and claims; the ground-truth service serves the outcomes. The view (``devkit.demo.view``) prints every round
once it is closed, with the reason for each decision; at the end every round the daemon decided on is closed and
settled, and the report (amounts in coins, exact) checks that the reconciled PnL equals the account's balance change.
Start-up progress goes to stderr, one line a step ("demo: anvil ...", "demo: market ...", "demo: daemon started");
stdout's first line, once the daemon is built and the starting balance read, names anvil, the market, the Allora
service and the ground-truth service (tests read anvil's URL there), then the table or the JSON.
The crowd is simulated (thin pools): the table and the report say so.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from bot.app import build_app, build_runtime
from bot.config import Settings, parse_settings
from bot.domain import Position
from bot.store.db import session_scope
from bot.store.journal import Intent
from bot.store.outcomes import Settlement
from devkit.demo.view import CROWD_WARNING, HEADER, DemoView, coin_text
from devkit.demo.world import TOPIC_ID, World, build_world, start, summary
from devkit.devnet.deploy import Dialect

log = logging.getLogger(__name__)
MARKET = "btc-demo"
COIN = "ETH"  # the devnet chain's native coin


def demo_settings(world: World, workdir: Path) -> Settings:
    return parse_settings({
        "mode": "live",
        "database_url": f"sqlite:///{workdir / 'demo.db'}",
        "chains": {"devnet": {"chain_id": 31337, "rpc_urls": [world.node.url]}},
        "markets": [{"name": MARKET, "chain": "devnet", "dialect": world.deployment.dialect,
                     "address": world.deployment.market_address,
                     "topic": "btc-5m", "price_decimals": 8}],
        "allora": {
            "source": "api", "api_url": world.allora_url, "rpc_url": world.allora_rest_url, "max_age_seconds": 120,
            "signature": {"required": True, "trusted_signers": [world.signer_address]},
            "topics": [{"name": "btc-5m", "topic_id": TOPIC_ID, "kind": "log-return", "horizon_seconds": world.interval,
                        "asset": "BTC", "poll_seconds": 1.0, "volatility": 0.0015}],
        },
        "strategy": {"name": "edge", "params": {"min_edge": 0.0, "kelly_fraction": 0.5, "max_stake_wei": 10**17,
                                                "bankroll_fraction": 0.01}},
        "risk": {"max_stake_per_bet_wei": 10**17, "max_stake_per_day_wei": 10**19, "max_daily_loss_wei": 10**19,
                 "pause_after_losses": 0, "bankroll_fraction": 0.02, "kill_switch_file": str(workdir / "KILL")},
        "execution": {"lead_seconds": 2.5, "claim_interval_seconds": 4, "confirmations": 1,
                      "gas": {"mode": "eip1559", "floor_gwei": "1", "ceiling_gwei": "200", "priority_gwei": "1"}},
        "truth": {"host": "127.0.0.1", "port": 0},
        "api": {"enabled": True, "host": "127.0.0.1", "port": 0},  # the dashboard, /api, /metrics (when served)
    })


def run_demo(rounds: int = 20, interval: int = 10, workdir: Path = Path("data/demo"), *, live_view: bool | None = None,
             keep: bool = False, dialect: Dialect = "v2") -> dict[str, Any]:
    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    plain = not (sys.stdout.isatty() if live_view is None else live_view)
    view = DemoView(MARKET)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: max instances" on a busy machine: noise here
    interrupted = False
    with ExitStack() as stack:
        world = build_world(stack, interval=interval, rounds=rounds, dialect=dialect, on_phase=_progress)
        settings = demo_settings(world, workdir)
        env_name = settings.wallet.private_key_env
        previous_key = os.environ.get(env_name)
        os.environ[env_name] = world.bot_key  # a public anvil dev key, handed over in-process only
        stack.callback(_restore_env, env_name, previous_key)
        api_env = settings.allora.api_key_env
        stack.callback(_restore_env, api_env, os.environ.get(api_env))
        os.environ[api_env] = "UP-local-demo"  # the local service accepts any key
        app = build_app(settings)
        w3 = app.w3_for(MARKET)
        market = app.market(MARKET)
        account = app.account_address()
        balance_start = int(w3.eth.get_balance(account))  # type: ignore[arg-type]
        runtime = build_runtime(app, on_decision=view.on_decision, watch_interval=0.25,
                                start_blocks={MARKET: world.deployment.block_number})
        stack.callback(runtime.stop)
        api_url = getattr(runtime, "api_url", None)  # set by the composition root once the daemon serves its API
        if api_url:
            _progress("api", f"dashboard {api_url}/  API {api_url}/api/status  metrics {api_url}/metrics")
        truth = _truth_service(settings, world)
        stack.callback(truth.stop)
        print(f"demo: anvil {world.node.url}, market {world.deployment.market_address}, Allora {world.allora_url}, "
              f"ground truth {truth.base_url}; {rounds} rounds of {interval} s", flush=True)
        start(world)
        runtime.daemon.start()
        _progress("daemon", f"daemon started (pid {os.getpid()}), betting live as {account}")
        out = stack.enter_context(RowPrinter(view, plain, api_url))
        tick = functools.partial(out.tick, market, app.sessions, account)
        try:
            _watch(runtime, rounds, tick)
        except KeyboardInterrupt:
            interrupted = True
            print("\ninterrupted: stopping cleanly", file=sys.stderr, flush=True)
        runtime.stop()
        final = _settle_everything(app, runtime, world, view, interrupted, tick)
        world.stop.set()
        out.finish(market, app.sessions, account)
        balance_end = int(w3.eth.get_balance(account))  # type: ignore[arg-type]
        rec = runtime.reconcilers[0]
        pnl = rec.account_pnl(account)
        report = _report(app, view, runtime, pnl, balance_start, balance_end, final, truth, world, interrupted)
    return report


def _progress(name: str, line: str) -> None:
    print(f"demo: {line}", file=sys.stderr, flush=True)


class RowPrinter:
    """Prints each round once it is closed (scrolling output that keeps every round); on a terminal, a live footer
    shows the rounds still open. ``finish`` prints what is left once everything is settled."""

    def __init__(self, view: DemoView, plain: bool, api_url: str | None = None) -> None:
        self.view, self.plain, self.api_url = view, plain, api_url
        self.live: Any = None

    def __enter__(self) -> RowPrinter:
        if self.api_url:
            self._print(f"while the demo runs: dashboard {self.api_url}/  API {self.api_url}/api/status  "
                        f"metrics {self.api_url}/metrics")
        self._print(HEADER)
        self._print(f"  ({CROWD_WARNING})")
        if not self.plain:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(self._footer(), console=Console(), refresh_per_second=2, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)
            self.live = None

    def _print(self, line: str) -> None:
        if self.live is not None:
            self.live.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, flush=True)

    def _footer(self) -> Any:
        from rich.text import Text

        rows = self.view.open_rows()
        text = "\n".join(["open rounds:"] + [r.line() for r in rows]) if rows else "waiting for the next round"
        return Text(text, no_wrap=True, overflow="ellipsis")  # one line a round: the footer's height stays known

    def tick(self, market: Any, sessions: Any, account: str) -> None:
        self.view.refresh(market, sessions, account)
        for row in self.view.newly_closed():
            self._print(row.line())
        if self.live is not None:
            self.live.update(self._footer())

    def finish(self, market: Any, sessions: Any, account: str) -> None:
        self.tick(market, sessions, account)
        self.__exit__()
        for row in self.view.open_rows():  # only if a round could not be closed (interrupted): shown as open
            row.printed = True
            print(row.line(), flush=True)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _truth_service(settings: Settings, world: World):  # type: ignore[no-untyped-def]
    from bot.truth.blocktime import CachedBlockTimes, SdkBlockTimes
    from bot.truth.prices import FunctionPriceSource
    from bot.truth.service import build_resolver, start_in_thread

    def price_at(ts: int) -> float | None:
        return None  # no exchange feed offline: answers come from the rounds, or wait

    resolver = build_resolver(
        settings, block_times=CachedBlockTimes(SdkBlockTimes(world.allora_rest_url, chain_id="allora-localnet-1")),
        prices={"BTC": FunctionPriceSource(price_at, label="none")},
    )
    return start_in_thread(resolver)


def _watch(runtime: Any, rounds: int, tick: Callable[[], None]) -> None:
    daemon = runtime.daemon
    while daemon.stats.rounds_seen < rounds:
        tick()
        time.sleep(0.5)


def _settle_everything(app: Any, runtime: Any, world: World, view: DemoView, interrupted: bool,
                       tick: Callable[[], None]) -> dict[str, Any]:
    """Let the keeper close every round the daemon decided on (not when interrupted: stop soon), then reconcile and
    claim until nothing is left."""
    market = app.market(MARKET)
    last = max(view.rounds, default=0)
    deadline = time.time() + world.interval * 4 + 30
    while last and not interrupted and time.time() < deadline:
        current = market.current_epoch()
        if current >= last + 2 and market.round(last).oracle_called and \
                market.chain_time() > market.round(last).close_timestamp:
            break
        tick()
        time.sleep(0.5)
    claims: list[Any] = []
    rec = runtime.reconcilers[0]
    from bot.errors import TemporaryError

    for _ in range(6):
        try:
            rec.reconcile()
            reports = rec.claim()
        except TemporaryError as exc:  # e.g. a claim raced a nonce: retry the sweep
            log.warning("final claim sweep: %s (retrying)", exc)
            time.sleep(1.0)
            continue
        claims.extend(reports)
        if not any(r.sent for r in reports):
            break
        time.sleep(1.0)
    time.sleep(1.0)
    rec.reconcile()
    return {"claim_txs": sum(len(r.sent) for r in claims), "claimed_epochs": sorted(
        e for r in claims for e in r.claimed_epochs)}


def _truth_checks(truth: Any, app: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"url": truth.base_url}
    try:
        r = requests.post(f"{truth.base_url}/calculate", json={"y_true": "0.001", "y_pred": "0.0004",
                                                               "options": {"loss_method": "mse"}}, timeout=5)
        out["loss_service"] = {"status": r.status_code, "body": r.text[:80]}
    except requests.RequestException as exc:
        out["loss_service"] = {"error": str(exc)}
    return out


def _report(app: Any, view: DemoView, runtime: Any, pnl: Any, balance_start: int, balance_end: int,
            final: dict[str, Any], truth: Any, world: World, interrupted: bool) -> dict[str, Any]:
    with session_scope(app.sessions) as s:
        intents = list(s.scalars(select(Intent)))
        settlements = list(s.scalars(select(Settlement)))
        states: dict[str, int] = {}
        for i in intents:
            states[i.state] = states.get(i.state, 0) + 1
        won = sum(1 for st in settlements if st.status == "won")
        lost = sum(1 for st in settlements if st.status == "lost")
        claimed = sum(1 for st in settlements if st.claimed)
        sides = {p.label: sum(1 for i in intents if i.position == int(p)) for p in Position}
    hits, total = view.hits()
    change = balance_end - balance_start
    reconciled = int(pnl.pnl_wei)
    lat = sorted(runtime.daemon.stats.latencies)
    rows = [r.to_json() for _, r in sorted(view.rounds.items())]
    still_open = [epoch for epoch, r in sorted(view.rounds.items()) if not r.closed]
    return {
        "interrupted": interrupted,
        "coin": COIN,
        "world": summary(world),
        "rounds_seen": runtime.daemon.stats.rounds_seen,
        "decisions": runtime.daemon.stats.decisions,
        "skips": runtime.daemon.stats.skips,
        "rounds": rows,
        "all_closed": not still_open,
        "open_rounds": still_open,
        "bets": {"intents": len(intents), "by_state": states, "by_side": sides},
        "settled": {"bets": len(settlements), "won": won, "lost": lost, "claimed": claimed, **final},
        "pnl": {
            "reconciled_pnl_wei": reconciled,
            "balance_change_wei": change,
            "difference_wei": reconciled - change,
            "equal": reconciled == change,
            "stakes_wei": pnl.native.stakes_wei,
            "claimed_wei": pnl.native.claimed_wei,
            "unclaimed_wei": pnl.native.unclaimed_wei,
            "gas_wei": pnl.gas_wei,
        },
        "crowd": {"simulated": True, "bets": world.crowd_bets, "warning": CROWD_WARNING},
        "signal_accuracy": {"hits": hits, "rounds": total, "hit_rate": round(hits / total, 3) if total else None},
        "decision_latency_ms": {"p50": round(lat[len(lat) // 2] * 1000, 2) if lat else None,
                                "max": round(lat[-1] * 1000, 2) if lat else None},
        "truth_service": _truth_checks(truth, app),
    }


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"


def print_report(report: dict[str, Any]) -> None:
    """The closing report: plain lines, amounts in coins (exact), the simulated crowd named."""
    p, st = report["pnl"], report["settled"]
    coin = report["coin"]

    def amount(wei: int) -> str:
        return f"{'+' if wei > 0 else ''}{coin_text(wei)} {coin}"

    stakes = p["stakes_wei"]
    ret = f" ({p['reconciled_pnl_wei'] * 100 / stakes:+.1f} % of stakes*)" if stakes else ""
    closed = ("every round closed and settled" if report["all_closed"] else
              f"rounds still open (interrupted): {', '.join(map(str, report['open_rounds']))}")
    lat = report["decision_latency_ms"]
    acc = report["signal_accuracy"]
    loss = report["truth_service"].get("loss_service", {})
    lines = [
        "demo report" + (" (interrupted)" if report["interrupted"] else ""),
        f"  rounds seen            {report['rounds_seen']}: {closed}",
        f"  decisions              {report['decisions']} ({report['skips']} skips)",
        f"  bets                   {report['bets']['intents']}: {_counts(report['bets']['by_state'])}; "
        f"{_counts(report['bets']['by_side'])}",
        f"  settled                {st['bets']} (won {st['won']}, lost {st['lost']}); claimed {st['claimed']} in "
        f"{st['claim_txs']} claim transaction(s)",
        f"  staked                 {coin_text(stakes)} {coin}",
        f"  claimed back           {coin_text(p['claimed_wei'])} {coin}"
        + (f" (unclaimed {coin_text(p['unclaimed_wei'])} {coin})" if p["unclaimed_wei"] else ""),
        f"  gas                    {coin_text(p['gas_wei'])} {coin}",
        f"  reconciled PnL         {amount(p['reconciled_pnl_wei'])}{ret}",
        f"  balance change         {amount(p['balance_change_wei'])}",
        "  PnL == balance change  " + ("yes, to the wei" if p["equal"] else
                                       f"NO: {p['difference_wei']} wei apart"),
        f"  signal hit rate        {acc['hits']}/{acc['rounds']} rounds",
        f"  decision latency       p50 {lat['p50']} ms, max {lat['max']} ms",
        f"  ground-truth service   {report['truth_service']['url']} (loss endpoint: "
        f"{'HTTP ' + str(loss['status']) if 'status' in loss else loss.get('error', '?')})",
        f"  * {report['crowd']['warning']} ({report['crowd']['bets']} crowd bets).",
        "  go on by hand: python main.py devnet up (a devnet that stays up; see its --help)",
    ]
    print("\n".join(lines), flush=True)
