"""Cost of the signer's checks on the bet path: the signing policy (decode + decide) and the daily gas cap (journal read).

Signs a V2 bet ``--n`` times with ``TxSender.sign`` on a SQLite journal (WAL, synchronous=FULL, as the bot runs it)
holding ``--history`` attempts from earlier days and ``--today`` attempts from today (mined, plus a few in flight), and
prints p50/p99 of: the policy check alone, the gas-cap read alone, the raw signature alone, and the whole ``sign``.
The first read of a day folds the day's resolved attempts once (reported separately); later reads fetch only the rows
from the oldest unresolved attempt on.
No node is contacted (signing makes no RPC).

Usage: python benchmarks/bench_signer.py [--n 2000] [--history 100000] [--today 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402
from web3 import Web3  # noqa: E402

from bot.chain.gas import Fees, GasPolicy  # noqa: E402
from bot.chain.policy import SigningPolicy, rule_for  # noqa: E402
from bot.chain.sender import TxSender  # noqa: E402
from bot.chain.txcodec import UnsignedTx  # noqa: E402
from bot.config import GasConfig  # noqa: E402
from bot.domain import Position  # noqa: E402
from bot.markets.base import PredictionMarket  # noqa: E402
from bot.markets.dialects import V2  # noqa: E402
from bot.store import hotjournal  # noqa: E402
from bot.store.db import engine_of, make_engine, session_factory  # noqa: E402

KEY = "0x" + "42" * 32
MARKET = "0x" + "a1" * 20


def fill(sender: TxSender, history: int, today: int) -> None:
    """Attempts rows as the sender writes them: ``history`` from 2 days ago, ``today`` now (all mined but 3)."""
    now = time.time()
    rows = []
    for i in range(history + today):
        created = now - 2 * 86_400 if i < history else now
        status = "sent" if i >= history + today - 3 else "mined"
        raw = sender._signer.sign(UnsignedTx(31337, i, 250_000, bytes.fromhex(MARKET[2:]), 10**16,
                                             b"\x57\xfd\x47\x01" + i.to_bytes(32, "big"), max_fee=2 * 10**9,
                                             priority_fee=10**9))[0] if status == "sent" else b"\x00"
        rows.append((None, "bet", "m", sender.address, i, f"0x{i:064x}", raw.hex(), str(i), str(2 * 10**9), str(10**9),
                     status, str(100_000 * 10**9), created))
    with hotjournal.write(engine_of(sender.sessions)) as conn:
        conn.executemany(
            "INSERT INTO tx_attempts (intent_id, kind, market, account, nonce, tx_hash, raw_tx, epochs, max_fee_wei, "
            "priority_fee_wei, status, gas_cost_wei, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)


def timed(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--history", type=int, default=100_000)
    ap.add_argument("--today", type=int, default=5_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        w3 = Web3(Web3.HTTPProvider("http://127.0.0.1:9"))  # never contacted
        market = PredictionMarket(w3, MARKET, V2, name="m")
        gas = GasPolicy(GasConfig(floor_gwei=Decimal(1), ceiling_gwei=Decimal(100), priority_gwei=Decimal(1)))
        sender = TxSender(w3, Account.from_key(KEY), session_factory(engine), gas,
                          SigningPolicy(31337, [rule_for(market)], 10**18), 31337, max_gas_per_day_wei=10**30)
        fill(sender, args.history, args.today)
        fees = Fees(False, max_fee=2 * 10**9, priority_fee=10**9)
        bets = [market.build_bet(Position.BULL, 10**6 + i, 10**16) for i in range(args.n)]
        data = [bytes.fromhex(b.data[2:]) for b in bets]
        to = bytes.fromhex(MARKET[2:])
        unsigned = UnsignedTx(31337, 1, 250_000, to, 10**16, data[0], max_fee=2 * 10**9, priority_fee=10**9)
        t0 = time.perf_counter()
        sender.budget.spend()  # once a day: the day's first attempt id, its resolved attempts folded
        first_ms = (time.perf_counter() - t0) * 1000
        print(f"journal: {args.history} attempts from earlier days, {args.today} today; {args.n} signings")
        print(f"  first gas-cap read of the day: {first_ms:.1f} ms")
        for label, fn in (
            ("policy check", lambda i: sender.policy.check(31337, to, 10**16, data[i])),
            ("gas-cap read", lambda i: sender.budget.spend()),
            ("signature only", lambda i: sender._signer.sign(unsigned)),
            # the hash is then handed to journaled(), as record_attempt does once the row is committed
            ("TxSender.sign", lambda i: sender.budget.journaled(sender.sign(bets[i], 10**7 + i, fees)[1])),
        ):
            p50, p99 = timed(fn, args.n)
            print(f"  {label:15s} p50 {p50:.3f} ms  p99 {p99:.3f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()
