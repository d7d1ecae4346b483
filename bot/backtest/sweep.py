"""Parameter sweeps: a grid of strategy parameters run in parallel processes, with an out-of-sample split by time.

Rounds and aligned signals are prepared once and shipped to each worker process once (pool initializer); every grid
point then runs the vectorised engine on the train part (the first ``train_fraction`` of rounds by lock time) and on
the test part (the rest), each from a fresh bankroll. Rank by a *train* column: the test columns are what that choice
would have earned out of sample.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bot.backtest.engine import EngineConfig, PreparedRounds, run_engine
from bot.backtest.metrics import compute_metrics
from strategies.registry import build_strategy, strategy_class

SWEEP_METRICS: tuple[str, ...] = (
    "bets",
    "hit_rate",
    "hit_rate_pvalue",
    "pnl_ether",
    "roi",
    "profit_factor",
    "sharpe_per_bet",
    "max_drawdown_pct",
)


@dataclass(frozen=True)
class _Job:
    strategy: str
    base_params: dict[str, Any]
    config: EngineConfig
    split: int  # rows [0, split) train, [split, n) test


_STATE: dict[str, Any] = {}


def _init_worker(rounds: pd.DataFrame, signals: pd.DataFrame, job: _Job) -> None:
    _STATE["job"] = job
    _STATE["train"] = (PreparedRounds.from_frame(rounds.iloc[: job.split], job.config.dialect), signals.iloc[: job.split])
    test_rounds = rounds.iloc[job.split :]
    _STATE["test"] = (
        (PreparedRounds.from_frame(test_rounds, job.config.dialect), signals.iloc[job.split :]) if len(test_rounds) else None
    )


def _run_point(params: dict[str, Any]) -> dict[str, Any]:
    job: _Job = _STATE["job"]
    row: dict[str, Any] = dict(params)
    for part in ("train", "test"):
        data = _STATE[part]
        if data is None:
            continue
        strategy = build_strategy(strategy_class(job.strategy), {**job.base_params, **params})
        metrics = compute_metrics(run_engine(data[0], data[1].reset_index(drop=True), strategy, job.config))
        for key in SWEEP_METRICS:
            row[f"{part}_{key}"] = metrics[key]
    return row


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in order."""
    if not grid:
        return [{}]
    keys = list(grid)
    for key in keys:
        if isinstance(grid[key], str) or not isinstance(grid[key], Sequence) or not grid[key]:
            raise ValueError(f"grid[{key!r}] must be a non-empty list of values")
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def run_sweep(
    strategy: str,
    grid: Mapping[str, Sequence[Any]],
    rounds: pd.DataFrame,
    signals: pd.DataFrame,
    *,
    config: EngineConfig | None = None,
    base_params: Mapping[str, Any] | None = None,
    train_fraction: float = 0.7,
    max_workers: int | None = None,
    rank_by: str = "train_sharpe_per_bet",
    mp_context: str | None = None,
) -> pd.DataFrame:
    """One row per grid point with train/test metrics (``train_<metric>``, ``test_<metric>``), best ``rank_by`` first.

    ``rounds``/``signals`` as for ``run_engine`` (e.g. ``BacktestResult.rounds`` and ``.signals``); the grid varies
    strategy parameters only. ``max_workers=1`` runs in this process (no pool); default: ``min(cpus, points)``.
    ``mp_context`` picks the multiprocessing start method (default: the platform's).
    """
    if not 0 < train_fraction <= 1:
        raise ValueError("train_fraction must be in (0, 1]")
    if len(signals) != len(rounds):
        raise ValueError("signals must be aligned to rounds (one row per round)")
    order = rounds["lock_ts"].to_numpy().argsort(kind="stable")
    rounds = rounds.iloc[order].reset_index(drop=True)
    signals = signals.iloc[order].reset_index(drop=True)
    split = max(1, int(round(len(rounds) * train_fraction)))
    job = _Job(strategy, dict(base_params or {}), config or EngineConfig(), split)
    build_strategy(strategy_class(strategy), dict(base_params or {}))  # fail fast on a bad strategy or parameter
    points = grid_points(grid)
    workers = max_workers or min(os.cpu_count() or 1, len(points))
    if workers <= 1:
        _init_worker(rounds, signals, job)
        try:
            rows = [_run_point(p) for p in points]
        finally:
            _STATE.clear()
    else:
        ctx = mp.get_context(mp_context) if mp_context else None
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(rounds, signals, job)) as pool:
            rows = list(pool.map(_run_point, points))
    table = pd.DataFrame(rows)
    if rank_by in table.columns:
        table = table.sort_values(rank_by, ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    table.attrs.update(strategy=strategy, train_rounds=split, test_rounds=len(rounds) - split, rank_by=rank_by)
    return table
