"""Benchmark: reconcile 10,000 rounds from anvil, and the speed-up of JSON-RPC batching over one call per round.

    .venv/bin/python benchmarks/bench_reconcile.py [--rounds 10000] [--bet-every 10] [--no-claim] [--persist-states]

Driving 10,000 rounds through anvil takes most of the run (~40 min on a 2-core VM: anvil's cost per block grows with
the contract's storage); the reconciles themselves take seconds. ``--rounds 3000`` is a ~5-minute run.

1. Starts its own anvil, deploys a V2 market with a 10 s interval and runs ``--rounds`` rounds on explicit chain time:
   the Keeper kicks off genesis, then a fast driver (automine off) puts ``updateAnswer`` + ``executeRound`` in one
   block stamped exactly at each lock; every ``--bet-every`` rounds our account and another one bet in a block
   stamped one second after the round's start.
2. Reconciles from scratch into a fresh SQLite file (event scan from the deployment block, every round outcome,
   every bet settled, our transactions), then once more (incremental: nothing new).
3. Reads every round once batched (``PredictionMarket.rounds``, 200 calls per JSON-RPC batch) and once with one
   ``eth_call`` per round, and reconciles from scratch again with one call per batch, and prints the speed-ups.
4. Sweeps the claims of our account (all wins, paged history, batches of 20) unless ``--no-claim``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.chain.gas import GasPolicy  # noqa: E402
from bot.chain.policy import SigningPolicy, rule_for  # noqa: E402
from bot.chain.sender import TxSender  # noqa: E402
from bot.config import GasConfig  # noqa: E402
from bot.markets.base import PredictionMarket  # noqa: E402
from bot.markets.dialects import V2  # noqa: E402
from bot.reconcile import Reconciler, ReconcileSettings  # noqa: E402
from bot.store.db import make_engine, session_factory  # noqa: E402
from devkit.devnet.anvil import AnvilNode  # noqa: E402
from devkit.devnet.deploy import Deployment, MarketConfig, deploy_v2  # noqa: E402
from devkit.devnet.keeper import Keeper  # noqa: E402

INTERVAL = 10
MILLI = 10**15


class Driver:
    """Runs rounds fast on explicit time: automine off, one block per keeper step, exact timestamps."""

    def __init__(self, node: AnvilNode, deployment: Deployment) -> None:
        self.node = node
        self.deployment = deployment
        self.session = requests.Session()
        self.session.trust_env = False
        w3 = node.w3
        self.market = deployment.market(w3)
        self.oracle = deployment.oracle(w3)
        self.operator = deployment.roles.operator
        self.nonces: dict[str, int] = {}
        self.execute_data = self.market.encode_abi("executeRound", args=[])
        self.bull_data = self.market.encode_abi("betBull", args=[0])[:10]
        self.bear_data = self.market.encode_abi("betBear", args=[0])[:10]

    def call(self, method: str, params: list[Any]) -> Any:
        reply = self.session.post(self.node.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        body = reply.json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    def send(self, sender: str, to: str, data: str, value: int = 0, gas: int = 500_000) -> None:
        nonce = self.nonces.setdefault(sender, self.node.w3.eth.get_transaction_count(sender))  # type: ignore[arg-type]
        tx = {"from": sender, "to": to, "data": data, "gas": hex(gas), "value": hex(value), "nonce": hex(nonce)}
        self.call("eth_sendTransaction", [tx])
        self.nonces[sender] = nonce + 1

    def bet(self, sender: str, epoch: int, bull: bool, amount: int) -> None:
        selector = self.bull_data if bull else self.bear_data
        self.send(sender, self.deployment.market_address, selector + f"{epoch:064x}", value=amount, gas=200_000)

    def kickoff(self) -> None:
        """Genesis with the devnet Keeper (explicit time), then hand over to the fast loop."""
        self.rng = random.Random(5)
        self.keeper = Keeper(self.node.w3, self.deployment)
        self.price = 600 * 10**8
        self.keeper.kickoff(self.price, self.price)
        self.epoch = self.keeper.current_epoch()
        self.lock = self.keeper.lock_timestamp()
        self.step = 0

    def run(self, rounds: int, bet_every: int, ours: str, other: str) -> None:
        """``rounds`` more rounds: [bet block at start + 1], then updateAnswer + executeRound in a block at lock."""
        rng = self.rng
        self.node.set_automine(False)
        try:
            for _ in range(rounds):
                if bet_every and self.step % bet_every == 0:
                    self.bet(ours, self.epoch, bull=rng.random() < 0.5, amount=rng.randint(1, 9) * MILLI)
                    self.bet(other, self.epoch, bull=rng.random() < 0.5, amount=2 * MILLI)
                    self.call("evm_mine", [{"timestamp": self.lock - INTERVAL + 2, "blocks": 1}])
                self.price += rng.choice((97, -89, 53, -31, 0))  # 0: the locked round closes flat
                update = self.oracle.encode_abi("updateAnswer", args=[self.price])
                self.send(self.operator, str(self.deployment.oracle_address), update, gas=200_000)
                self.send(self.operator, self.deployment.market_address, self.execute_data)
                self.call("evm_mine", [{"timestamp": self.lock, "blocks": 1}])
                self.epoch += 1
                self.lock += INTERVAL
                self.step += 1
            self.call("evm_mine", [{"timestamp": self.lock - INTERVAL + 1, "blocks": 1}])  # closes are in the past
        finally:
            self.node.set_automine(True)
        assert self.keeper.current_epoch() == self.epoch, "a keeper step did not land"


def fresh_reconciler(
    workdir: Path, tag: str, market: PredictionMarket, ours: str, start: int, read_batch: int, sender: TxSender | None
) -> Reconciler:
    sessions = session_factory(make_engine(f"sqlite:///{workdir / f'{tag}.db'}"))
    settings = ReconcileSettings(start_blocks={market.name: start}, read_batch=read_batch)
    senders = {ours: sender} if sender is not None else {}
    return Reconciler(sessions, [market], accounts=[ours], senders=senders, settings=settings)


def timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--bet-every", type=int, default=10)
    parser.add_argument("--no-claim", action="store_true")
    parser.add_argument("--persist-states", action="store_true",
                        help="let anvil write old states to disk (~100 KB a block: 10,000 rounds took ~40 GB)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress shows when redirected
    first_part = args.rounds // 3

    # by default the node keeps recent states in memory only, like a non-archive node: old balances and nonces are
    # gone, which the reconciler handles (it says so once and checks nonce gaps from the first known transaction)
    node_args = () if args.persist_states else ("--prune-history",)
    with AnvilNode(accounts=6, balance_eth=1_000_000, extra_args=node_args) as node, \
            tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config = MarketConfig(interval_seconds=INTERVAL, buffer_seconds=5, oracle_update_allowance=10**9)
        deployment = deploy_v2(node.w3, config)
        start = deployment.block_number
        ours, other = node.accounts[3], node.accounts[4]
        market = PredictionMarket(node.w3, deployment.market_address, V2, name="bench")
        driver = Driver(node, deployment)
        driver.kickoff()
        # read now: anvil keeps only recent states, so the balance at the start block is gone by the end of a long run
        start_balance = node.w3.eth.get_balance(ours)  # type: ignore[arg-type]

        # part 1: a third of the rounds, reconciled from scratch
        _, drive1_s = timed(lambda: driver.run(first_part, args.bet_every, ours, other))
        early = fresh_reconciler(workdir, "early", market, ours, start, 200, None)
        _, early_s = timed(early.reconcile)
        print(f"drove {first_part} rounds in {drive1_s:.1f} s; reconciled them from scratch in {early_s:.2f} s")

        # part 2: the rest
        _, drive2_s = timed(lambda: driver.run(args.rounds - first_part, args.bet_every, ours, other))
        print(
            f"drove {args.rounds - first_part} more rounds in {drive2_s:.1f} s ({node.block_number()} blocks; "
            "anvil's cost per block grows with the contract's storage)"
        )

        key = node.private_keys[3]
        memory = session_factory(make_engine("sqlite://"))
        policy = SigningPolicy(node.chain_id, [rule_for(market)], max_stake_per_bet=10**18)
        sender = TxSender(
            node.w3, Account.from_key(key), memory, GasPolicy(GasConfig()), policy, node.chain_id,
            max_gas_per_day_wei=10**20,
        )
        rec = fresh_reconciler(workdir, "batched", market, ours, start, 200, sender)
        sender.sessions = rec.sessions
        report, full_s = timed(rec.reconcile)
        bets = sum(m.bets_settled for m in report.markets)
        rounds_read = sum(m.rounds_read for m in report.markets)
        print(
            f"reconcile {args.rounds} rounds from scratch (batched): {full_s:.2f} s — {rounds_read} rounds read, "
            f"{bets} bets settled, {report.txs.imported} transactions, {rounds_read / full_s:.0f} rounds/s"
        )
        scale = f"{first_part} rounds {early_s:.2f} s, {args.rounds} rounds {full_s:.2f} s"
        if args.rounds != 10_000:
            scale += f" -> 10,000 rounds ~{full_s * 10_000 / args.rounds:.1f} s (extrapolated)"
        print(f"  scaling: {scale}")
        _, incr_s = timed(early.reconcile)
        print(f"incremental reconcile of the {args.rounds - first_part} newer rounds: {incr_s:.2f} s")
        _, again_s = timed(rec.reconcile)
        print(f"reconcile again (nothing new): {again_s:.3f} s")

        epochs = list(range(1, market.current_epoch()))
        _, batched_s = timed(lambda: market.rounds(epochs, batch_size=200))
        _, single_s = timed(lambda: [market.round(e) for e in epochs])
        _, web3_batch_s = timed(lambda: market.rounds(epochs, batch_size=200))
        print(
            f"read {len(epochs)} rounds: raw JSON-RPC batches of 200 {batched_s:.2f} s, one eth_call per round "
            f"{single_s:.2f} s -> speed-up x{single_s / batched_s:.1f} "
            f"(web3 batch via PredictionMarket.rounds: {web3_batch_s:.2f} s)"
        )
        unbatched = fresh_reconciler(workdir, "single", market, ours, start, 1, None)
        _, single_full_s = timed(unbatched.reconcile)
        print(
            f"reconcile from scratch, one call per JSON-RPC request: {single_full_s:.2f} s "
            f"-> batching speed-up x{single_full_s / full_s:.1f}"
        )
        if not args.no_claim:
            claim_and_check(node, rec, ours, start_balance)


def claim_and_check(node: AnvilNode, rec: Reconciler, ours: str, start_balance: int) -> None:
    reports, claim_s = timed(rec.claim)
    claimed = sum(len(r.claimed_epochs) for r in reports)
    sent = sum(len(r.sent) for r in reports)
    _, after_s = timed(rec.reconcile)
    pnl = rec.account_pnl(ours)
    print(f"claim sweep: {claimed} epochs in {sent} transactions, {claim_s:.2f} s; reconcile after: {after_s:.2f} s")
    change = node.w3.eth.get_balance(ours) - start_balance  # type: ignore[arg-type]
    print(
        f"reconciled PnL == balance change to the wei: {pnl.pnl_wei == change} "
        f"(unattributed transactions: {pnl.unattributed_txs})"
    )
    print(
        f"account PnL {pnl.pnl_wei / 1e18:+.6f} ETH (stakes {pnl.native.stakes_wei / 1e18:.3f}, "
        f"claimed {pnl.native.claimed_wei / 1e18:.3f}, gas {pnl.gas_wei / 1e18:.6f}, "
        f"unclaimed {pnl.native.unclaimed_wei})"
    )


if __name__ == "__main__":
    main()
