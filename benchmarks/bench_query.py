"""Benchmark: the query service (``bot.query``) on a journal of many bets — what ``history``, ``pnl``, ``status``, the
REST API and Telegram wait for.

    .venv/bin/python benchmarks/bench_query.py [--bets 20000] [--repeat 7] [--url sqlite:///...]

A fresh SQLite store (or ``--url``) gets ``--bets`` bets over two markets and both modes (90 % settled with a
settlement row, 10 % open journal intents), written through the ORM and *not* timed. Then each read is timed
``--repeat`` times; the median and the best are printed in milliseconds (this machine may be shared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.coins import Coin  # noqa: E402
from bot.query import QueryService  # noqa: E402
from bot.store.db import make_engine, session_factory, session_scope  # noqa: E402
from bot.store.journal import Intent  # noqa: E402
from bot.store.outcomes import Settlement  # noqa: E402

ACCOUNT = "0x" + "ab" * 20
PAPER_ACCOUNT = "0x" + "cd" * 20  # one bet per (market, epoch, account): paper bets on their own account here
T0 = 1_780_000_000


def seed(url: str, bets: int) -> None:
    engine = make_engine(url)
    with session_scope(session_factory(engine)) as s:
        for i in range(bets):
            market, mode = ("m1", "m2")[i % 2], ("live", "paper")[(i // 2) % 2]
            epoch, at = 1 + i // 4, T0 + 75 * i
            account = ACCOUNT if mode == "live" else PAPER_ACCOUNT
            s.add(Intent(market=market, epoch=epoch, account=account, mode=mode, position=i % 2, amount_wei=10**16 + i,
                         state="landed", lock_ts=at, created_at=at - 10, decision='{"p_up": 0.55}',
                         tx_hash="0x" + f"{i:064x}" if mode == "live" else None))
            if i < bets * 9 // 10:
                won = i % 3 == 0
                payout = 19 * 10**15 + i if won else 0
                s.add(Settlement(market=market, epoch=epoch, account=account, mode=mode, position=i % 2,
                                 stake_wei=10**16 + i, status="won" if won else "lost", payout_wei=payout,
                                 bet_gas_wei=21_000 * 10**9, net_pnl_wei=payout - 10**16 - i - 21_000 * 10**9,
                                 final=True, settled_at=at + 300, origin="bot"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bets", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    started = time.perf_counter()
    seed(url, args.bets)
    print(f"seeded {args.bets} bets in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
    q = QueryService(make_engine(url), {"m1": Coin("BNB"), "m2": Coin("ETH")})
    reads = {
        "bets(limit=50)  [history]": lambda: q.bets(limit=50),
        "bets(live, open)": lambda: q.open_bets("live", limit=None),
        "status_inputs(account)": lambda: q.status_inputs(ACCOUNT, (14,)),
        "pnl()  [all settled bets]": lambda: q.pnl(),
        "equity_curve(live)": lambda: q.equity_curve("live"),
        "summary()": lambda: q.summary(),
    }
    for name, read in reads.items():
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            read()
            times.append((time.perf_counter() - t) * 1000)
        print(f"{name:<28} median {statistics.median(times):8.1f} ms   best {min(times):8.1f} ms")


if __name__ == "__main__":
    main()
