"""The chaos run (``make chaos``; a reduced form runs in the test suite).

The demo's world (anvil, our V2 market, a keeper on real BTC prices, a crowd, the local Allora service) with faults:
(a) the bot's primary RPC is a fault-injection proxy failing a share of requests with every kind it knows — drops,
    delays, 5xx, 429, malformed, truncated, in-band errors, black holes, deeply nested and huge bodies (the secondary
    is anvil itself);
(b) the Allora service returns 429 / 500 / stale / future / NaN / badly signed / rescaled (genuinely signed,
    token_decimals changed) inferences for stretches;
(c) the daemon — a real ``main.py run --live`` process — is SIGKILLed at random moments and restarted.
At the end it prints: rounds, bets intended, bets landed before lock, bets lost to faults, double bets, journal rows
lost, |reconciled PnL - balance change| in wei, bets placed on rejected inferences, and daemon crashes (a daemon
process that died without being killed: its exit code; the run fails on any).
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from bot.store.db import session_scope
from bot.store.inferences import InferenceRecord
from bot.store.journal import Intent
from devkit.demo.run import MARKET, demo_settings
from devkit.demo.world import build_world, start
from devkit.devnet.procs import die_with_parent, stop_on_signals

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
ALLORA_FAULTS = ("http_429", "stale", "bad_signature", "http_500", "future", "nan", "rescaled")


def _spawn(config: Path, env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    out = log_file.open("ab")
    return subprocess.Popen(  # noqa: S603 — our own entry point
        [sys.executable, str(ROOT / "main.py"), "-c", str(config), "-v", "run", "--live"],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(signal.SIGTERM),  # noqa: PLW1509 — a daemon never outlives the chaos run
    )


def run_chaos(
    rounds: int = 100,
    kills: int = 20,
    interval: int = 8,
    rpc_fault_rate: float = 0.3,
    seed: int = 11,
    workdir: Path = Path("data/chaos"),
) -> dict[str, Any]:
    import shutil

    from devkit.devnet.faultproxy import FaultPlan, FaultProxy

    rng = random.Random(seed)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    with ExitStack() as stack:
        world = build_world(stack, interval=interval, rounds=rounds)
        proxy = stack.enter_context(FaultProxy(world.node.url, seed=seed))
        proxy.set_plan(FaultPlan(rate=rpc_fault_rate, delay_ms=300, blackhole_timeout=3.0, forward_faulted=True))
        settings = demo_settings(world, workdir)
        tree = settings.model_dump(mode="json")
        tree["chains"]["devnet"]["rpc_urls"] = [proxy.url, world.node.url]
        tree["chains"]["devnet"]["request_timeout"] = 2.0
        tree["allora"]["backoff_cap_seconds"] = float(interval)  # a round is short: retry within it
        tree["api"]["enabled"] = False  # the demo's dashboard: not wanted in each restarted daemon
        config = workdir / "chaos.yaml"
        config.write_text(yaml.safe_dump(tree))
        env = {**os.environ, settings.wallet.private_key_env: world.bot_key, "ALLORA_API_KEY": "UP-local-chaos",
               "PYTHONUNBUFFERED": "1"}
        w3 = world.node.w3
        account = world.bot_address
        balance_start = int(w3.eth.get_balance(account))  # type: ignore[arg-type]
        start(world)
        daemon_log = workdir / "daemon.log"
        child = _spawn(config, env, daemon_log)
        market = world.deployment.market(w3)
        duration = rounds * (interval + 3) + 30  # rounds run a little longer than the interval (lock + execution)
        t0 = time.time()
        expected = rounds * (interval + 1.0)  # when the rounds will most likely be done
        kill_times = sorted(rng.uniform(5, expected - 5) for _ in range(kills))
        kills_done = 0
        next_allora_fault = t0 + rng.uniform(10, 30)
        fault_ends = 0.0
        control = _control(world)
        crashes: list[int] = []  # exit codes of daemon processes that died on their own (-11: SIGSEGV)
        while time.time() - t0 < duration and int(market.functions.currentEpoch().call()) < rounds + 1:
            now = time.time() - t0
            if child.poll() is not None:  # not killed by us: a crash (e.g. a hostile answer); restart, count it
                crashes.append(int(child.returncode))
                child = _spawn(config, env, daemon_log)
            if kill_times and now >= kill_times[0]:
                kill_times.pop(0)
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=10)
                kills_done += 1
                child = _spawn(config, env, daemon_log)
            if fault_ends and time.time() >= fault_ends:
                control.clear()  # a stretch of Allora faults ends
                fault_ends = 0.0
            if time.time() >= next_allora_fault:
                kind = rng.choice(ALLORA_FAULTS)
                control.inject(kind, route="consumer")  # until cleared: a stretch, not a blip
                fault_ends = time.time() + rng.uniform(2, 5) * interval
                next_allora_fault = fault_ends + rng.uniform(3, 8) * interval
            time.sleep(0.2)
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
        proxy.clear()
        figures = _final(world, workdir, settings, account, balance_start, kills_done, proxy)
        figures["daemon_crashes"] = crashes
    return figures


def _control(world: Any) -> Any:
    import requests

    class HttpControl:
        def inject(self, kind: str, **options: Any) -> None:
            requests.post(f"{world.allora_url}/_control", json={"inject": {"kind": kind, **options}}, timeout=5)

        def clear(self) -> None:
            requests.post(f"{world.allora_url}/_control", json={"clear": True}, timeout=5)

    return HttpControl()


def _final(world: Any, workdir: Path, settings: Any, account: str, balance_start: int, kills: int,
           proxy: Any) -> dict[str, Any]:
    """Let every bet round close, claim and reconcile in-process, then count."""
    from bot.app import build_app, build_reconcilers

    os.environ[settings.wallet.private_key_env] = world.bot_key
    try:
        app = build_app(settings)
        market = app.market(MARKET)
        with session_scope(app.sessions) as s:
            intents = list(s.scalars(select(Intent)))
            last = max((i.epoch for i in intents), default=0)
        deadline = time.time() + 4 * world.interval + 30
        while last and time.time() < deadline:
            if market.current_epoch() >= last + 2 and market.chain_time() > market.round(last).close_timestamp + 1:
                break
            time.sleep(0.5)
        rec = build_reconcilers(app)[0]
        for _ in range(6):
            try:
                rec.reconcile()
                if not any(r.sent for r in rec.claim()):
                    break
            except Exception as exc:  # noqa: BLE001 — retried; reported in the log
                log.warning("final sweep: %s", exc)
            time.sleep(1)
        rec.reconcile()
        pnl = rec.account_pnl(account)
        balance_end = int(market.w3.eth.get_balance(account))  # type: ignore[arg-type]
        figures = _count(app, market, account, world)
    finally:
        os.environ.pop(settings.wallet.private_key_env, None)
    figures.update(
        kills=kills,
        reconciled_pnl_wei=int(pnl.pnl_wei),
        balance_change_wei=balance_end - balance_start,
        pnl_difference_wei=abs(int(pnl.pnl_wei) - (balance_end - balance_start)),
        rpc_faults=proxy.counters(),
    )
    return figures


def _count(app: Any, market: Any, account: str, world: Any) -> dict[str, Any]:
    w3 = market.w3
    contract = market.contract
    head = int(w3.eth.block_number)
    ours: dict[int, int] = {}
    for name in ("BetBull", "BetBear"):
        event = getattr(contract.events, name)
        for entry in event.get_logs(from_block=0, to_block=head, argument_filters={"sender": account}):
            epoch = int(entry["args"]["epoch"])
            ours[epoch] = ours.get(epoch, 0) + 1
    with session_scope(app.sessions) as s:
        intents = {i.epoch: (i.state, i.decision, i.block_timestamp, i.lock_ts) for i in s.scalars(select(Intent))}
        log_rows = list(s.scalars(select(InferenceRecord)))
        accepted = {(r.topic_id, r.timestamp) for r in log_rows if r.accepted}
        rejected: dict[str, int] = {}
        for r in log_rows:
            if not r.accepted:
                rejected[str(r.reason)] = rejected.get(str(r.reason), 0) + 1
    landed = [e for e, v in intents.items() if v[0] == "landed" and (v[2] is None or v[2] < v[3])]
    lost = [e for e, v in intents.items() if v[0] in ("failed", "dropped", "too-late", "reverted")]
    on_rejected = 0
    for epoch, (_state, decision, _, _) in intents.items():
        if epoch not in ours:
            continue
        sig = (json.loads(decision or "{}") or {}).get("signal") or {}
        if (sig.get("topic_id"), sig.get("inference_timestamp")) not in accepted:
            on_rejected += 1
    return {
        "rounds": int(market.current_epoch()),
        "bets_intended": len(intents),
        "bets_landed_before_lock": len(landed),
        "landed_share": round(len(landed) / len(intents), 4) if intents else None,
        "bets_lost_to_faults": len(lost),
        "lost_states": {s: sum(1 for v in intents.values() if v[0] == s) for s in {v[0] for v in intents.values()}},
        "double_bets": sum(1 for n in ours.values() if n > 1),
        "journal_rows_lost": sum(1 for e in ours if e not in intents),
        "bets_on_rejected_inferences": on_rejected,
        "inferences_accepted": len(accepted),
        "inferences_rejected": rejected,
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--interval", type=int, default=8)
    ap.add_argument("--rpc-fault-rate", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workdir", default="data/chaos")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with stop_on_signals():  # SIGTERM/SIGINT unwind the run: the daemon child and anvil stop with it
        figures = run_chaos(args.rounds, args.kills, args.interval, args.rpc_fault_rate, args.seed, Path(args.workdir))
    print(json.dumps(figures, indent=2, default=str))
    ok = (figures["double_bets"] == 0 and figures["journal_rows_lost"] == 0 and figures["pnl_difference_wei"] == 0
          and figures["bets_on_rejected_inferences"] == 0 and not figures["daemon_crashes"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
