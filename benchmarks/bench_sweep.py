"""Benchmark: sweep throughput (grid points per second) on one process and on local Dask clusters of 1, 2 and N workers.

    .venv/bin/python benchmarks/bench_sweep.py [--rounds 200000] [--points 32] [--repeat 2] [--workers 1,2,N]

Data (synthetic rounds with exact int64 pools and their signals, ``bot.backtest.synthetic``) is generated first and not
timed. A point is one ``edge`` parameter set run by the vectorised engine on the train part and the test part (70/30),
with its metrics and bets fingerprint. For each engine the cluster is started and the data scattered once (timed
separately as "start"), then the whole grid is run ``--repeat`` times; points/s is the best run. Every engine must
return the same table as one process (checked: same fingerprints). N is the CPU count; on a 2-core machine shared with
other work, more workers than cores only adds overhead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bot.backtest.engine import EngineConfig, PreparedRounds  # noqa: E402
from bot.backtest.fanout import DaskEngine, LocalEngine, Session  # noqa: E402
from bot.backtest.sweep import SweepData, evaluate_point  # noqa: E402
from bot.backtest.synthetic import synthetic_market  # noqa: E402

CONFIG = EngineConfig(gas_per_bet_wei=10**13, gas_per_claim_wei=10**13)


def grid(n: int) -> list[dict[str, float]]:
    edges = np.linspace(0.0, 0.08, max(1, n // 4))
    kellys = (0.05, 0.1, 0.25, 0.5)
    return [{"min_edge": float(e), "kelly_fraction": k} for e in edges for k in kellys][:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200_000)
    ap.add_argument("--points", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", default=f"1,2,{os.cpu_count() or 1}")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rounds, signals = synthetic_market(args.rounds, seed=1)
    split = int(len(rounds) * 0.7)
    parts = {
        "train": (PreparedRounds.from_frame(rounds.iloc[:split], validate=False), signals.iloc[:split].reset_index(drop=True)),
        "test": (PreparedRounds.from_frame(rounds.iloc[split:], validate=False), signals.iloc[split:].reset_index(drop=True)),
    }
    data = SweepData("edge", {}, CONFIG, parts)
    points = grid(args.points)
    tasks = [(part, p) for p in points for part in parts]
    print(f"data: {args.rounds:,} synthetic rounds, {len(points)} points ({len(tasks)} engine runs) "
          f"prepared in {time.perf_counter() - t0:.1f} s (not timed)", flush=True)
    engines: list[tuple[str, LocalEngine | DaskEngine]] = [("1 process (no cluster)", LocalEngine())]
    for w in dict.fromkeys(int(x) for x in args.workers.split(",")):
        engines.append((f"dask, {w} worker process(es)", DaskEngine(workers=w)))
    reference: list[dict] | None = None
    for label, engine in engines:
        start = time.perf_counter()
        with Session(engine, data) as session:
            started = time.perf_counter() - start
            best = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                results = session.run(evaluate_point, tasks)
                best = min(best, time.perf_counter() - t)
        reference = reference or results
        same = pd.DataFrame(results).equals(pd.DataFrame(reference))
        print(f"{label:<32} start {started:5.1f} s   grid {best:6.2f} s   {len(points) / best:7.2f} points/s   "
              f"same fingerprints as 1 process: {same}", flush=True)


if __name__ == "__main__":
    main()
