"""Scale in one process: one daemon, one account, N markets (20 by default) whose rounds all lock in the same second.

Each market's round ``i`` starts one second after the previous one and is one second shorter, so every round locks at
the same instant; the daemon (the real ``Daemon`` with its APScheduler jobs, one ``BetExecutor``, anvil automine)
fires every bet job at lock - lead. The edge strategy stakes a fixed amount, and the daily cap admits only
``--cap-bets`` of them: exactly that many must land before lock, the rest be refused by the cap, none sent twice.

Prints: bets intended / landed before lock / refused by the cap, the spread of the hand-offs (first to last raw
transaction handed to the RPC), the margin of the last bet to lock, and whether the daily cap held exactly.

Usage: python benchmarks/bench_scale.py [--markets 20] [--cap-bets 15] [--lead 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.chain.clock import ChainClock, fast_block_time  # noqa: E402
from bot.chain.policy import SigningPolicy, rule_for  # noqa: E402
from bot.config import Settings, TopicConfig  # noqa: E402
from bot.engine.daemon import Daemon, MarketRuntime  # noqa: E402
from bot.engine.executor import SpendingCaps  # noqa: E402
from bot.engine.risk import default_limits  # noqa: E402
from bot.markets import PredictionMarket, dialect_for  # noqa: E402
from bot.store import hotjournal  # noqa: E402
from devkit.devnet.anvil import AnvilNode  # noqa: E402
from devkit.devnet.deploy import MarketConfig, deploy_v2  # noqa: E402
from devkit.devnet.keeper import Keeper  # noqa: E402
from strategies.edge import EdgeStrategy  # noqa: E402
from tests.engine.helpers import build_live  # noqa: E402

P = 600 * 10**8
STAKE = 10**16


class Signals:
    """A strong up signal on every topic (the bench measures the bet path, not the forecaster)."""

    def poll_due(self) -> None:
        return None

    def latest_signal(self, topic_name: str, reference_price: object, now: float | None = None) -> object:
        return type("Sig", (), {"p_up": 0.8, "predicted_return": 0.001, "age_seconds": 1.0})()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markets", type=int, default=20)
    ap.add_argument("--cap-bets", type=int, default=15, help="the daily cap admits this many stakes")
    ap.add_argument("--lead", type=float, default=4.0, help="execution.lead_seconds")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # blocks every 0.5 s (BSC: ~0.45 s), so many transactions in one second share a block and its timestamp
    with AnvilNode(accounts=10, block_time=0.5, extra_args=("--prune-history",)) as node, \
            tempfile.TemporaryDirectory() as tmp:
        w3 = node.w3
        base_interval = 40 + args.markets
        deps = [deploy_v2(w3, MarketConfig(interval_seconds=base_interval - i, buffer_seconds=10))
                for i in range(args.markets)]
        print(f"deployed {args.markets} markets", file=sys.stderr)
        t0 = int(time.time()) + 2
        for i, dep in enumerate(deps):  # start i at t0 + i, interval base - i: every round locks at t0 + base
            node.set_next_timestamp(t0 + i)
            Keeper(w3, dep).genesis_start(price=P)
        lock_ts = t0 + base_interval
        crowd = node.accounts[7]
        for dep in deps:  # someone on the other side, so a bull bet has an edge
            market_contract = dep.market(w3)
            w3.eth.wait_for_transaction_receipt(market_contract.functions.betBear(1).transact(
                {"from": crowd, "value": 10**17, "gas": 300_000}))
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        ex, first, sessions, lw3 = build_live(node.url, deps[0].market_address, "v2", node.private_keys[5], db_url,
                                              name="m0")
        ex.caps = SpendingCaps(max_per_bet=STAKE, max_per_day=STAKE * args.cap_bets)
        markets = [first] + [PredictionMarket(lw3, d.market_address, dialect_for("v2"), name=f"m{i}")
                             for i, d in enumerate(deps) if i > 0]
        ex.sender.policy = SigningPolicy(31337, [rule_for(m, None) for m in markets], STAKE)  # every market enabled
        settings = Settings.model_validate({
            "risk": {"max_stake_per_day_wei": 10**22, "max_daily_loss_wei": 10**22, "pause_after_losses": 0,
                     "kill_switch_file": f"{tmp}/KILL"},
            "execution": {"lead_seconds": args.lead},
        })
        runtimes = [MarketRuntime(m, TopicConfig(name=f"t{i}", topic_id=i + 1)) for i, m in enumerate(markets)]
        clock = ChainClock(lw3)
        clock.sync()

        def chain_now() -> float:  # as the app's: the latest block, or wall clock + offset when blocks are sparse
            return max(float(fast_block_time(lw3)), clock.now())

        ex.chain_now = chain_now
        daemon = Daemon(settings, runtimes, ex, Signals(), EdgeStrategy(min_edge=0.0, stake_wei=STAKE),
                        default_limits(settings.risk), sessions, chain_now, bankroll=lambda: 10**20,
                        watch_interval=0.25)
        ex.sender.warm()
        print(f"all {args.markets} rounds lock at {lock_ts} (in {lock_ts - time.time():.0f} s); lead {args.lead} s",
              file=sys.stderr)
        daemon.start()
        while time.time() < lock_ts + 3:
            time.sleep(0.5)
        daemon.stop()
        with hotjournal.connection(ex.engine) as conn:
            rows = conn.execute("SELECT market, state, reason, handed_at, block_timestamp, amount_wei FROM intents"
                                ).fetchall()
        landed = [r for r in rows if r[1] == "landed" and r[4] is not None and int(r[4]) < lock_ts]
        capped = [r for r in rows if r[1] == "failed" and "daily cap" in str(r[2])]
        handed = sorted(float(r[3]) for r in rows if r[3])
        on_chain = sum(1 for m in markets if m.ledger(m.current_epoch(), ex.account).amount > 0)
        states: dict[str, int] = {}
        for r in rows:
            states[f"{r[1]}: {str(r[2])[:60]}"] = states.get(f"{r[1]}: {str(r[2])[:60]}", 0) + 1
        print(f"scale: {args.markets} markets locking at the same second, one account, lead {args.lead} s")
        print(f"  intents           {len(rows)}: {states}")
        print(f"  landed before lock {len(landed)} (expected {min(args.cap_bets, args.markets)})")
        print(f"  refused by cap    {len(capped)} (expected {max(args.markets - args.cap_bets, 0)})")
        print(f"  bets on chain     {on_chain}; staked {sum(int(r[5]) for r in landed)} wei, cap "
              f"{STAKE * args.cap_bets} wei: cap held exactly = {len(landed) == min(args.cap_bets, args.markets)}")
        if handed:
            print(f"  hand-off spread   {(handed[-1] - handed[0]) * 1000:.0f} ms (first to last raw tx handed)")
            print(f"  last hand-off     {lock_ts - handed[-1]:.2f} s before lock (wall clock)")
        if landed:
            print(f"  latest inclusion  block stamped {lock_ts - max(int(r[4]) for r in landed)} s before lock")


if __name__ == "__main__":
    main()
