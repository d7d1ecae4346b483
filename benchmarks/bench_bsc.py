"""BSC-like timing: how late can a bet be fired and still land before lock, with blocks every 0.45 s?

anvil mines on a 0.45 s interval (``--block-time 0.45``, BSC's block time since 2025), so two or three blocks share
each ``block.timestamp`` second and the last block that can carry a bet is one stamped ``lockTimestamp - 1``: it is
mined somewhere in the last wall-clock second before lock. Our V2 market runs short rounds in real time (a keeper
executes each round once the chain reaches its lock); the crowd bets early in each round.

For each lead (seconds before lock, wall clock = anvil's clock) and each round, two bets are fired at lock - lead:
- **raw**: a pre-signed ``betBull`` handed straight to the node (what the chain itself allows);
- **daemon**: the daemon's own bet job (decision, journal, the executor's timing guard, signing, broadcast).
A bet *lands* when it is mined, succeeded, in a block stamped before lock. The leads: 1.0 s, 0.6 s, and the lead the
daemon picks by itself (``Daemon.lead_seconds()``: ``execution.lead_seconds`` + the measured p99 decision latency).

Figures only (no assertions); the machine's load moves them. ``benchmarks/bench_latency.py --bsc`` runs this.

Usage: python benchmarks/bench_bsc.py [--rounds 12] [--interval 8] [--block-time 0.45]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402
from sqlalchemy import select  # noqa: E402

from benchmarks.bench_latency import P, Sig  # noqa: E402 — the same price and signal shape as the latency bench
from bot.config import Settings, TopicConfig  # noqa: E402
from bot.engine.daemon import Daemon, MarketRuntime  # noqa: E402
from bot.engine.executor import SpendingCaps  # noqa: E402
from bot.engine.risk import default_limits  # noqa: E402
from bot.store.db import session_scope  # noqa: E402
from bot.store.journal import Intent  # noqa: E402
from devkit.devnet.anvil import AnvilNode  # noqa: E402
from devkit.devnet.deploy import MarketConfig, deploy_v2  # noqa: E402
from devkit.devnet.keeper import Keeper  # noqa: E402
from strategies.edge import EdgeStrategy  # noqa: E402
from tests.engine.helpers import build_live  # noqa: E402

STAKE = 10**16


class Signals:
    """A confident signal every round (the bench measures timing, not the edge)."""

    def poll_due(self) -> None:
        return None

    def latest_signal(self, topic_name: str, reference_price: object, now: float | None = None) -> Sig:
        return Sig(0.8)


@dataclass
class Tally:
    lead: float
    raw_fired: int = 0
    raw_landed: int = 0
    daemon_epochs: list[int] = field(default_factory=list)
    fire_lateness_ms: list[float] = field(default_factory=list)
    skips: int = 0  # rounds the daemon decided not to bet (logged with the reason at INFO)


def sleep_until(wall: float) -> None:
    while True:
        left = wall - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 0.05) if left > 0.06 else max(left - 0.002, 0))  # fine-grained near the mark


def latest_ts(w3) -> int:  # type: ignore[no-untyped-def]
    return int(w3.eth.get_block("latest")["timestamp"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=12, help="rounds per lead")
    ap.add_argument("--interval", type=int, default=8, help="round length in seconds (BSC: 300; short to save time)")
    ap.add_argument("--block-time", type=float, default=0.45)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bot.engine.daemon").setLevel(logging.INFO)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    with contextlib.ExitStack() as stack:
        node = stack.enter_context(AnvilNode(accounts=10, block_time=args.block_time, extra_args=("--prune-history",)))
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        w3 = node.w3
        dep = deploy_v2(w3, MarketConfig(interval_seconds=args.interval, buffer_seconds=120))
        keeper = Keeper(w3, dep)
        ex, market, sessions, lw3 = build_live(node.url, dep.market_address, "v2", node.private_keys[5],
                                               f"sqlite:///{Path(tmp) / 'bench.db'}")
        settings = Settings.model_validate({"risk": {"max_stake_per_day_wei": 10**22, "max_daily_loss_wei": 10**22,
                                                    "max_stake_per_bet_wei": STAKE,
                                                    "pause_after_losses": 0, "kill_switch_file": f"{tmp}/KILL"}})
        ex.caps = SpendingCaps(max_per_bet=STAKE, max_per_day=10**22)
        ex.block_seconds = args.block_time  # as chains.<name>.block_seconds does for the daemon (config/bsc-mainnet.yaml)

        def chain_now() -> float:
            return float(latest_ts(lw3))

        runtime = MarketRuntime(market, TopicConfig(name="btc", topic_id=1))
        daemon = Daemon(settings, [runtime], ex, Signals(), EdgeStrategy(min_edge=0.0, stake_wei=STAKE, max_stake_wei=STAKE),
                        default_limits(settings.risk), sessions, chain_now, bankroll=lambda: 10**19)
        ex.sender.warm()
        raw_account = Account.from_key(node.private_keys[7])
        raw_nonce = w3.eth.get_transaction_count(raw_account.address)
        chain_id = w3.eth.chain_id
        crowd = node.accounts[3:5]
        keeper.genesis_start(price=P)
        first = True
        tallies = [Tally(1.0), Tally(0.6), Tally(-1.0)]  # -1: the daemon's own lead, read when its turn comes
        raw_hashes: list[tuple[Tally, bytes, int]] = []
        t0 = time.perf_counter()
        for tally in tallies:
            if tally.lead < 0:
                tally.lead = daemon.lead_seconds()
            for _ in range(args.rounds):
                epoch = market.current_epoch()
                rnd = market.round(epoch)
                lock = rnd.lock_timestamp
                while latest_ts(w3) <= rnd.start_timestamp:  # a bet stamped in the start second reverts
                    time.sleep(0.05)
                # the crowd, early in the round, leaning bear: a bull bet on a confident signal has an edge
                market.contract.functions.betBear(epoch).transact({"from": crowd[0], "value": 5 * 10**17,
                                                                   "gas": 300_000})
                market.contract.functions.betBull(epoch).transact({"from": crowd[1], "value": 10**17,
                                                                   "gas": 300_000})
                signed = raw_account.sign_transaction({
                    "to": dep.market_address, "value": STAKE, "gas": 200_000, "gasPrice": 2 * 10**9,
                    "nonce": raw_nonce, "chainId": chain_id,
                    "data": market.contract.encode_abi("betBull", args=[epoch]),
                })
                fire = lock - tally.lead
                sleep_until(fire - 0.4)
                daemon.sync_chain_clock()
                daemon.prepare(runtime)
                sleep_until(fire)
                tally.fire_lateness_ms.append((time.time() - fire) * 1000)
                raw_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
                raw_nonce += 1
                tally.raw_fired += 1
                raw_hashes.append((tally, bytes(raw_hash), lock))
                result = daemon.bet_job(runtime, epoch)
                tally.daemon_epochs.append(epoch)
                if result is None:
                    tally.skips += 1
                sleep_until(lock + 0.05)
                while latest_ts(w3) < lock:
                    time.sleep(0.05)
                if first:
                    keeper.genesis_lock(P)
                    first = False
                else:
                    keeper.execute(P + (epoch % 7) - 3)
            print(f"  lead {tally.lead:.3f} s: {args.rounds} rounds done", file=sys.stderr)
        elapsed = time.perf_counter() - t0
        time.sleep(3)  # the executor's watcher records the last receipts
        for tally, tx_hash, lock in raw_hashes:
            receipt = w3.eth.get_transaction_receipt(tx_hash)
            stamp = int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])
            if receipt["status"] == 1 and stamp < lock:
                tally.raw_landed += 1
        with session_scope(sessions) as s:
            intents = {r.epoch: r for r in s.scalars(select(Intent))}
            rows = {e: (r.state, r.block_timestamp, r.lock_ts) for e, r in intents.items()}
        print(f"BSC-like timing: anvil interval mining every {args.block_time} s (block.timestamp in whole seconds), "
              f"our V2 market, {args.interval} s rounds, {args.rounds} rounds per lead, wall {elapsed:.0f} s")
        print("  lead (s)   raw landed          daemon landed       daemon states                 fire late p50")
        for tally in tallies:
            states: dict[str, int] = {}
            landed = 0
            for e in tally.daemon_epochs:
                state, stamp, lock = rows.get(e, ("none", None, None))
                states[state] = states.get(state, 0) + 1
                landed += int(state == "landed" and stamp is not None and lock is not None and stamp < lock)
            n = len(tally.daemon_epochs)
            late = sorted(tally.fire_lateness_ms)[len(tally.fire_lateness_ms) // 2] if tally.fire_lateness_ms else 0
            label = f"{tally.lead:.3f}" + (" (daemon's own)" if tally is tallies[-1] else "")
            print(f"  {label:<22} {tally.raw_landed:>2}/{tally.raw_fired:<2} ({100 * tally.raw_landed / max(1, tally.raw_fired):5.1f} %)"
                  f"   {landed:>2}/{n:<2} ({100 * landed / max(1, n):5.1f} %)   {states}  {late:.1f} ms")
        print(f"  daemon's own lead = execution.lead_seconds {settings.execution.lead_seconds} + measured p99 "
              f"decision latency {daemon.stats.p99_latency() * 1000:.1f} ms")


if __name__ == "__main__":
    main()
