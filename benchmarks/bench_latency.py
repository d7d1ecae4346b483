"""Decision latency of the live bet path on anvil, and the share of bets landed before lock when fired at lock - 2 s.

Latency = bet job fired -> signed raw transaction handed to the RPC. It covers the whole hot path the daemon runs:
journal lookup, round read (pools), reference price, signal, strategy (edge, with pool dilution), risk limits (reads
the journal), intent commit (SQLite WAL, synchronous=FULL), spending caps, pre-flight eth_call against pending,
signing, journaling the raw transaction, broadcast.

The node runs with ``--prune-history`` (chain state in memory only). A production node is another machine; anvil on
this one, writing ~100 KB of state per block to the same disk, makes our journal's fsyncs wait behind its writeback
(ext4 orders them), which is a property of the test rig, not of the bot. ``--persist-states`` measures that case too.

The journal is a fresh SQLite file by default; ``--database-url URL`` measures another store (an empty database, e.g.
``postgresql+psycopg://user@127.0.0.1:5432/bench``), ``--postgres`` a throwaway local PostgreSQL cluster
(``devkit.devnet.postgres``: initdb + pg_ctl on a loopback port, server defaults, fsync on; removed after).

Usage: python benchmarks/bench_latency.py [--bets 220] [--persist-states] [--database-url URL | --postgres]
       python benchmarks/bench_latency.py --bsc [--rounds 12]   (BSC-like 0.45 s blocks: benchmarks/bench_bsc.py)
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from bot.chain.clock import fast_block_time  # noqa: E402
from bot.config import Settings, TopicConfig  # noqa: E402
from bot.engine.daemon import Daemon, MarketRuntime  # noqa: E402
from bot.engine.executor import SpendingCaps  # noqa: E402
from bot.engine.risk import default_limits  # noqa: E402
from bot.store.db import session_scope  # noqa: E402
from bot.store.journal import Intent  # noqa: E402
from devkit.devnet.anvil import AnvilNode  # noqa: E402
from devkit.devnet.deploy import deploy_v2  # noqa: E402
from devkit.devnet.keeper import Keeper  # noqa: E402
from devkit.devnet.postgres import PostgresCluster  # noqa: E402
from strategies.edge import EdgeStrategy  # noqa: E402
from tests.engine.helpers import build_live  # noqa: E402

P = 600 * 10**8


@dataclass
class Sig:
    p_up: float
    predicted_return: float = 0.001
    age_seconds: float = 5.0


class Signals:
    def __init__(self) -> None:
        self.i = 0

    def poll_due(self) -> None:
        return None

    def latest_signal(self, topic_name: str, reference_price: object, now: float | None = None) -> Sig:
        self.i += 1
        return Sig(0.75 if self.i % 2 else 0.25)


def main() -> None:
    if "--bsc" in sys.argv[1:]:  # BSC-like timing instead: benchmarks/bench_bsc.py (0.45 s blocks), its options follow
        import runpy

        sys.argv = [str(Path(__file__).with_name("bench_bsc.py"))] + [a for a in sys.argv[1:] if a != "--bsc"]
        runpy.run_path(sys.argv[0], run_name="__main__")
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--bets", type=int, default=220)
    ap.add_argument("--persist-states", action="store_true", help="let anvil write its states to this disk")
    store = ap.add_mutually_exclusive_group()
    store.add_argument("--database-url", default="", help="an empty database to journal in (default: a new SQLite file)")
    store.add_argument("--postgres", action="store_true", help="journal in a throwaway local PostgreSQL cluster")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress shows when redirected
    node_args = () if args.persist_states else ("--prune-history",)
    with contextlib.ExitStack() as stack:
        node = stack.enter_context(AnvilNode(accounts=10, extra_args=node_args))
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        w3 = node.w3
        dep = deploy_v2(w3)
        keeper = Keeper(w3, dep)
        db_url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        if args.postgres:
            cluster = stack.enter_context(PostgresCluster())
            db_url = cluster.url(cluster.create_database("bench"))
        ex, market, sessions, lw3 = build_live(node.url, dep.market_address, "v2", node.private_keys[5], db_url)
        settings = Settings.model_validate({"risk": {"max_stake_per_day_wei": 10**22, "max_daily_loss_wei": 10**22,
                                                    "pause_after_losses": 0, "kill_switch_file": f"{tmp}/KILL"}})
        ex.caps = SpendingCaps(max_per_bet=10**17, max_per_day=10**22)  # enforced in the executor too

        def chain_now() -> float:
            return float(fast_block_time(lw3))

        daemon = Daemon(settings, [MarketRuntime(market, TopicConfig(name="btc", topic_id=1))], ex, Signals(),
                        EdgeStrategy(min_edge=0.0), default_limits(settings.risk), sessions, chain_now,
                        bankroll=lambda: 10**20)
        ex.sender.warm()
        import gc

        gc.freeze()  # as Daemon.start does
        keeper.genesis_start(price=P)
        others = node.accounts[6:9]
        latencies: list[float] = []
        traces: list[dict[str, float]] = []
        fired_at_lock_minus_2 = 0
        t0 = time.perf_counter()
        for n in range(args.bets):
            epoch = market.current_epoch()
            rnd = market.round(epoch)
            at = max(market.chain_time() + 1, rnd.start_timestamp + 1)
            for i, who in enumerate(others):  # the crowd's bets
                fn = market.contract.functions.betBull if (n + i) % 2 else market.contract.functions.betBear
                node.set_next_timestamp(at)
                w3.eth.wait_for_transaction_receipt(fn(epoch).transact({"from": who, "value": (i + 1) * 10**17, "gas": 200_000}))
                at += 1
            node.mine(rnd.lock_timestamp - 2)  # the bet job fires at lock - 2 s
            daemon.sync_chain_clock()  # what the daemon's watch job does every 0.5 s
            daemon.prepare(daemon.markets[0])
            fired_at_lock_minus_2 += 1
            result = daemon.bet_job(daemon.markets[0], epoch)
            if result is not None and result.latency is not None:
                latencies.append(result.latency)
                traces.append(result.phases or {})
            action = keeper.genesis_lock if n == 0 else keeper.execute
            action(P + (n % 7) - 3, at=rnd.lock_timestamp)
            if (n + 1) % 50 == 0:
                print(f"  {n + 1}/{args.bets} rounds", file=sys.stderr)
        elapsed = time.perf_counter() - t0
        with session_scope(sessions) as s:
            rows = list(s.scalars(select(Intent)))
            landed = [r for r in rows if r.state == "landed" and r.block_timestamp is not None
                      and r.block_timestamp < r.lock_ts]
            states: dict[str, int] = {}
            for r in rows:
                states[r.state] = states.get(r.state, 0) + 1
        lat_ms = sorted(x * 1000 for x in latencies)
        p50 = statistics.median(lat_ms)
        p99 = pct(lat_ms, 0.99)
        print("decision latency (bet job fired -> raw tx handed to the RPC), anvil automine, edge strategy, "
              f"node states {'on this disk' if args.persist_states else 'in memory'}, "
              f"journal {db_url.split(':')[0].split('+')[0]}")
        print(f"  bets measured     {len(lat_ms)}")
        print(f"  p50               {p50:.2f} ms")
        print(f"  p99               {p99:.2f} ms")
        print(f"  max               {lat_ms[-1]:.2f} ms")
        print(f"  intents           {len(rows)}  states {states}")
        print(f"  fired at lock-2s  {fired_at_lock_minus_2}; landed before lock {len(landed)} "
              f"({100.0 * len(landed) / max(1, len(rows)):.1f} % of bets placed)")
        print(f"  wall time         {elapsed:.1f} s")
        print_phases(traces, latencies)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def print_phases(traces: list[dict[str, float]], latencies: list[float]) -> None:
    """Where the time goes: each hot-path phase's p50 / p99 / max, and the slowest bets phase by phase."""
    if not traces or not any(traces):
        return
    names: list[str] = []
    for t in traces:
        names += [n for n in t if n not in names]
    print("phases (ms)        p50     p99     max")
    for name in names:
        values = [t.get(name, 0.0) for t in traces]
        print(f"  {name:<15} {pct(values, 0.5):6.2f}  {pct(values, 0.99):6.2f}  {max(values):6.2f}")
    slowest = sorted(range(len(latencies)), key=lambda i: latencies[i], reverse=True)[:3]
    for i in slowest:
        detail = " ".join(f"{k}={v:.1f}" for k, v in traces[i].items() if v >= 1.0)
        print(f"  slow bet {latencies[i] * 1000:.1f} ms: {detail}")


if __name__ == "__main__":
    main()
