"""``python main.py demo``: the whole bot on a local devnet — see ``devkit.demo.world`` for the scenery.

The bot daemon bets live (a funded dev account) on our V2 market from the local Allora service's signed inferences,
reconciles and claims; the ground-truth service serves the outcomes. A live view shows rounds, signal, decision,
pools, PnL and accuracy; the final report checks that the reconciled PnL equals the account's balance change.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from bot.app import build_app, build_runtime
from bot.config import Settings, parse_settings
from bot.domain import Position
from bot.store.db import session_scope
from bot.store.journal import Intent
from bot.store.outcomes import RoundOutcome, Settlement
from devkit.demo.world import TOPIC_ID, World, build_world, start, summary
from devkit.devnet.deploy import Dialect

log = logging.getLogger(__name__)
MARKET = "btc-demo"


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
    })


@dataclass
class DemoView:
    rounds: dict[int, dict[str, Any]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    plain: bool = True

    def on_decision(self, decision: Any, result: Any) -> None:
        signal = decision.context.get("signal") or {}
        p_up = decision.context.get("p_up")
        row = self.rounds.setdefault(decision.epoch, {})
        row.update(
            p_up=None if p_up != p_up else round(float(p_up), 3),
            decision=decision.side.label if decision.side is not None else "skip",
            stake=decision.stake_wei, reason=decision.reason[:60],
            pools=(decision.context.get("bull_pool_wei", 0), decision.context.get("bear_pool_wei", 0)),
            state=result.state.value if result is not None else "-",
            signal_source="allora" if signal else "none",
        )
        if self.plain:
            pools = row["pools"]
            print(f"round {decision.epoch:>3}: p_up {row['p_up']}  pools bull {pools[0] / 1e18:.3f} / bear "
                  f"{pools[1] / 1e18:.3f}  -> {row['decision']} {row['stake'] / 1e18:.4f}  {row['state']}  "
                  f"({row['reason']})", flush=True)

    def refresh(self, sessions: Any, account: str) -> None:
        with session_scope(sessions) as s:
            for o in s.scalars(select(RoundOutcome).where(RoundOutcome.market == MARKET)):
                row = self.rounds.setdefault(o.epoch, {})
                row["outcome"] = {1: "up", -1: "down"}.get(o.direction, o.status)
            for st in s.scalars(select(Settlement).where(Settlement.account == account)):
                row = self.rounds.setdefault(st.epoch, {})
                row["result"] = st.status
                row["pnl"] = st.net_pnl_wei
                row["claimed"] = st.claimed

    def table(self) -> Any:
        from rich.table import Table

        table = Table("epoch", "p_up", "bull pool", "bear pool", "decision", "stake", "tx", "outcome", "result",
                      "net PnL", title="Allora x prediction market — live demo")
        for epoch in sorted(self.rounds)[-14:]:
            r = self.rounds[epoch]
            pools = r.get("pools", (0, 0))
            table.add_row(str(epoch), str(r.get("p_up", "")), f"{pools[0] / 1e18:.3f}", f"{pools[1] / 1e18:.3f}",
                          r.get("decision", ""), f"{r.get('stake', 0) / 1e18:.4f}", r.get("state", ""),
                          r.get("outcome", ""), r.get("result", ""),
                          f"{r['pnl'] / 1e18:+.5f}" if "pnl" in r else "")
        return table


def _hits(view: DemoView) -> tuple[int, int]:
    hits = total = 0
    for r in view.rounds.values():
        p = r.get("p_up")
        if p is None or p == 0.5 or r.get("outcome") not in ("up", "down"):
            continue
        total += 1
        hits += (p > 0.5) == (r["outcome"] == "up")
    return hits, total


def run_demo(rounds: int = 20, interval: int = 10, workdir: Path = Path("data/demo"), *, live_view: bool | None = None,
             keep: bool = False, dialect: Dialect = "v2") -> dict[str, Any]:
    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    plain = not (sys.stdout.isatty() if live_view is None else live_view)
    view = DemoView(plain=plain)
    interrupted = False
    with ExitStack() as stack:
        world = build_world(stack, interval=interval, rounds=rounds, dialect=dialect)
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
        account = app.account_address()
        balance_start = int(w3.eth.get_balance(account))  # type: ignore[arg-type]
        runtime = build_runtime(app, on_decision=view.on_decision, watch_interval=0.25,
                                start_blocks={MARKET: world.deployment.block_number})
        truth = _truth_service(settings, world)
        stack.callback(truth.stop)
        print(f"demo: anvil {world.node.url}, market {world.deployment.market_address}, Allora {world.allora_url}, "
              f"ground truth {truth.base_url}; {rounds} rounds of {interval} s", flush=True)
        start(world)
        runtime.daemon.start()
        try:
            _watch(runtime, view, app, account, rounds, plain)
        except KeyboardInterrupt:
            interrupted = True
            print("\ninterrupted: stopping cleanly", flush=True)
        runtime.stop()
        last_bet = _last_bet_epoch(app)
        final = _settle_everything(app, runtime, world, last_bet, interrupted)
        world.stop.set()
        view.refresh(app.sessions, account)
        balance_end = int(w3.eth.get_balance(account))  # type: ignore[arg-type]
        rec = runtime.reconcilers[0]
        pnl = rec.account_pnl(account)
        report = _report(app, view, runtime, pnl, balance_start, balance_end, final, truth, world, interrupted)
    return report


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


def _watch(runtime: Any, view: DemoView, app: Any, account: str, rounds: int, plain: bool) -> None:
    daemon = runtime.daemon
    if plain:
        while daemon.stats.rounds_seen < rounds:
            time.sleep(0.5)
        return
    from rich.live import Live

    with Live(view.table(), refresh_per_second=2, transient=False) as live:
        while daemon.stats.rounds_seen < rounds:
            view.refresh(app.sessions, account)
            live.update(view.table())
            time.sleep(0.5)


def _last_bet_epoch(app: Any) -> int:
    with session_scope(app.sessions) as s:
        epochs = list(s.scalars(select(Intent.epoch).where(Intent.state == "landed")))
    return max(epochs, default=0)


def _settle_everything(app: Any, runtime: Any, world: World, last_bet: int, interrupted: bool) -> dict[str, Any]:
    """Let the keeper close every round we bet on, then reconcile and claim until nothing is left."""
    market = app.market(MARKET)
    deadline = time.time() + world.interval * 4 + 30
    while last_bet and time.time() < deadline:
        current = market.current_epoch()
        if current >= last_bet + 2 and market.round(last_bet).oracle_called and \
                market.chain_time() > market.round(last_bet).close_timestamp:
            break
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
    hits, total = _hits(view)
    change = balance_end - balance_start
    reconciled = int(pnl.pnl_wei)
    lat = sorted(runtime.daemon.stats.latencies)
    return {
        "interrupted": interrupted,
        "world": summary(world),
        "rounds_seen": runtime.daemon.stats.rounds_seen,
        "decisions": runtime.daemon.stats.decisions,
        "skips": runtime.daemon.stats.skips,
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
        "signal_accuracy": {"hits": hits, "rounds": total, "hit_rate": round(hits / total, 3) if total else None},
        "decision_latency_ms": {"p50": round(lat[len(lat) // 2] * 1000, 2) if lat else None,
                                "max": round(lat[-1] * 1000, 2) if lat else None},
        "truth_service": _truth_checks(truth, app),
    }


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("figure", "value", title="demo report")
    p = report["pnl"]
    rows = [
        ("rounds seen", report["rounds_seen"]),
        ("decisions / skips", f"{report['decisions']} / {report['skips']}"),
        ("bets by state", report["bets"]["by_state"]),
        ("bets by side", report["bets"]["by_side"]),
        ("settled: won / lost", f"{report['settled']['won']} / {report['settled']['lost']}"),
        ("claimed bets / claim txs", f"{report['settled']['claimed']} / {report['settled']['claim_txs']}"),
        ("stakes", f"{p['stakes_wei'] / 1e18:.6f} ETH"),
        ("claimed back", f"{p['claimed_wei'] / 1e18:.6f} ETH"),
        ("gas", f"{p['gas_wei'] / 1e18:.8f} ETH"),
        ("reconciled PnL (wei)", p["reconciled_pnl_wei"]),
        ("balance change (wei)", p["balance_change_wei"]),
        ("PnL == balance change", "yes" if p["equal"] else f"NO (difference {p['difference_wei']} wei)"),
        ("signal hit rate", f"{report['signal_accuracy']['hits']}/{report['signal_accuracy']['rounds']}"),
        ("decision latency p50 / max", f"{report['decision_latency_ms']['p50']} / {report['decision_latency_ms']['max']} ms"),
        ("crowd bets", report["world"]["crowd_bets"]),
        ("loss service", report["truth_service"].get("loss_service")),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    Console().print(table)
