"""Benchmark: the vectorised backtest against the same logic as a per-round Python loop.

    .venv/bin/python benchmarks/bench_backtest.py [--rounds 1000000] [--loop-rounds 50000] [--repeat 5]

Data (synthetic rounds with exact int64 pools, and their signals) is generated first and is *not* timed. The timed
vectorised run covers everything after that: preparing the round arrays (outcomes, float pools), building the decision
contexts, ``EdgeStrategy.decide``, exact wei settlement (gas, ruin check, equity path) and every metric of
``compute_metrics``. The loop (``bot.backtest.reference``: scalar edge decision, ``bot.payout`` settlement, metrics kept
incrementally) is timed on the first ``--loop-rounds`` rounds and extrapolated linearly to ``--rounds``; both runs
are checked to settle exactly the same bets on that prefix (same fingerprint). Timings are the best of ``--repeat``
runs (the median is printed too): this machine may be shared.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backtest.engine import EngineConfig, PreparedRounds, bets_fingerprint, run_engine  # noqa: E402
from bot.backtest.metrics import compute_metrics  # noqa: E402
from bot.backtest.reference import ReferenceResult, reference_edge_backtest  # noqa: E402
from bot.backtest.synthetic import synthetic_market  # noqa: E402
from bot.domain import LedgerEntry, Position, Round  # noqa: E402
from bot.payout import calculate_rewards, settle, winning_position  # noqa: E402
from strategies.edge import EdgeStrategy  # noqa: E402

CONFIG = EngineConfig(gas_per_bet_wei=10**13, gas_per_claim_wei=10**13)


def vectorised(rounds, signals) -> dict:  # type: ignore[no-untyped-def]
    prep = PreparedRounds.from_frame(rounds, CONFIG.dialect, validate=False)
    result = run_engine(prep, signals, EdgeStrategy(), CONFIG)
    return {"result": result, "metrics": compute_metrics(result)}


def live_path_loop(rounds, p_up: list[float]) -> float:  # type: ignore[no-untyped-def]
    """Seconds to run rounds the way live trading does, one at a time: ``Strategy.decide_one`` (a one-row frame
    through the vectorised code) and ``bot.payout.settle`` on ``Round``/``LedgerEntry`` objects."""
    strategy = EdgeStrategy()
    rows = zip(
        rounds["lock_price"].tolist(),
        rounds["close_price"].tolist(),
        rounds["bull_wei"].tolist(),
        rounds["bear_wei"].tolist(),
        rounds["oracle_called"].tolist(),
        p_up,
        strict=True,
    )
    start = time.perf_counter()
    equity = CONFIG.bankroll_wei
    for lock, close, bull, bear, called, p in rows:
        d = strategy.decide_one(
            p_up=p, bull_pool_wei=bull, bear_pool_wei=bear, fee_bp=CONFIG.fee_bp,
            bankroll_wei=CONFIG.bankroll_wei, min_bet_wei=CONFIG.min_bet_wei,
        )
        if d.side is None:
            continue
        b_bull = bull + d.stake_wei * (d.side is Position.BULL)
        b_bear = bear + d.stake_wei * (d.side is Position.BEAR)
        winner = winning_position(lock, close)
        r = calculate_rewards(b_bull + b_bear, b_bull, b_bear, winner, CONFIG.fee_bp)
        rnd = Round(1, 1, 2, 3, lock, close, b_bull + b_bear, b_bull, b_bear, r.reward_base_cal_amount, r.reward_amount, called)
        equity += settle(rnd, LedgerEntry(1, d.side, d.stake_wei, False), 10**10, 30) - d.stake_wei
    return time.perf_counter() - start


def _timed(fn, repeat: int) -> tuple[list[float], list[float], object]:  # type: ignore[no-untyped-def]
    """Wall and CPU seconds of ``repeat`` calls (and the last result)."""
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return wall, cpu, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1_000_000)
    parser.add_argument("--loop-rounds", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--loop-repeat", type=int, default=3)
    parser.add_argument("--live-rounds", type=int, default=2_000, help="0 to skip the live-path timing")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    rounds, signals = synthetic_market(args.rounds, seed=args.seed)
    print(f"data: {args.rounds:,} synthetic rounds generated in {time.perf_counter() - t0:.2f} s (not timed)")

    vectorised(rounds.iloc[:1000], signals.iloc[:1000])  # warm-up (imports, caches)
    wall, cpu, out = _timed(lambda: vectorised(rounds, signals), args.repeat)
    assert isinstance(out, dict)
    m = out["metrics"]
    best = min(wall)
    print(
        f"vectorised: {args.rounds:,} rounds, {m['bets']:,} bets -> best {best * 1e3:.1f} ms wall "
        f"(median {statistics.median(wall) * 1e3:.1f} ms; best CPU {min(cpu) * 1e3:.1f} ms) over {args.repeat} runs; "
        f"hit rate {m['hit_rate']:.4f}, ROI {m['roi']:.4f}"
    )

    n_loop = min(args.loop_rounds, args.rounds)
    head, head_signals = rounds.iloc[:n_loop], signals.iloc[:n_loop]
    p_up = head_signals["p_up"].tolist()
    lwall, lcpu, ref = _timed(lambda: reference_edge_backtest(head, p_up, EdgeStrategy(), CONFIG), args.loop_repeat)
    assert isinstance(ref, ReferenceResult)
    per_round = min(lwall) / n_loop
    loop_full = per_round * args.rounds
    check = run_engine(head, head_signals, EdgeStrategy(), CONFIG)
    same = bets_fingerprint(check.bets) == ref.fingerprint
    print(
        f"python loop: {n_loop:,} rounds in best {min(lwall):.2f} s wall ({per_round * 1e6:.2f} us/round; best CPU "
        f"{min(lcpu) / n_loop * 1e6:.2f} us/round) over {args.loop_repeat} runs -> {loop_full:.1f} s extrapolated "
        f"linearly to {args.rounds:,} rounds; same bets as vectorised on these rounds: {same}"
    )
    n_live = min(args.live_rounds, args.rounds)
    if n_live:
        t = time.perf_counter()
        live_per_round = live_path_loop(rounds.iloc[:n_live], signals["p_up"].iloc[:n_live].tolist()) / n_live
        print(
            f"live path (decide_one + bot.payout.settle per round): {n_live:,} rounds in {time.perf_counter() - t:.2f} s "
            f"({live_per_round * 1e6:.0f} us/round) -> {live_per_round * args.rounds:.0f} s extrapolated; "
            f"speed-up {live_per_round * args.rounds / best:,.0f}x"
        )
    cpu_ratio = (min(lcpu) / n_loop * args.rounds) / min(cpu)
    print(
        f"speed-up: {loop_full / best:.0f}x wall, {cpu_ratio:.0f}x CPU (target >= 100x); "
        f"vectorised <= 150 ms: {best <= 0.150}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
