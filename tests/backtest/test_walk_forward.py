"""Issue 17, part 6: walk-forward windows and an Optuna search, with the chosen parameters' out-of-sample result next
to the in-sample best, fanned out on a real Dask cluster (a local multi-process cluster on 127.0.0.1, reached by its
address like a remote one) with results identical to one process — the same fingerprints."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from bot.backtest.engine import PreparedRounds, bets_fingerprint, run_engine
from bot.backtest.fanout import DaskEngine, LocalEngine
from bot.backtest.metrics import compute_metrics
from bot.backtest.runner import run_backtest
from bot.backtest.sweep import optuna_search, walk_forward, windows
from strategies import EdgeStrategy

ROOT = Path(__file__).resolve().parents[2]
GRID = {"min_edge": [0.0, 0.05], "kelly_fraction": [0.1, 0.25]}


@pytest.fixture(scope="module")
def week() -> object:
    return run_backtest("edge", end="2025-05-06", baselines=())


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Dask cluster of 2 worker processes; tests reach it by address, as they would a remote one."""
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      silence_logs=logging.ERROR) as local:
        yield local.scheduler_address


def _run(week: object, part: slice, params: dict) -> dict:
    rounds = week.rounds.iloc[part]  # type: ignore[attr-defined]
    signals = week.signals.iloc[part].reset_index(drop=True)  # type: ignore[attr-defined]
    run = run_engine(PreparedRounds.from_frame(rounds), signals, EdgeStrategy(**params), week.run.config)  # type: ignore[attr-defined]
    return {**compute_metrics(run), "fingerprint": bets_fingerprint(run.bets)}


def test_windows() -> None:
    assert windows(10, 4, 2) == [(0, 4, 6), (2, 6, 8), (4, 8, 10)]
    assert windows(10, 4, 2, step=3) == [(0, 4, 6), (3, 7, 9)]
    with pytest.raises(ValueError, match="too few"):
        windows(5, 4, 2)


def test_walk_forward_chooses_in_sample_and_scores_out_of_sample(week: object) -> None:
    wf = walk_forward("edge", GRID, week.rounds, week.signals, train_rounds=500, test_rounds=250,  # type: ignore[attr-defined]
                      config=week.run.config, rank_by="roi")  # type: ignore[attr-defined]
    assert len(wf.table) == len(windows(len(week.rounds), 500, 250))  # type: ignore[attr-defined]
    points = [dict(zip(GRID, v, strict=True)) for v in pd.MultiIndex.from_product(GRID.values())]
    for row in wf.table.to_dict(orient="records"):
        a = int(row["window"]) * 250
        train = [_run(week, slice(a, a + 500), p) for p in points]
        best = max(range(len(points)), key=lambda i: (train[i]["roi"] if train[i]["roi"] is not None else -math.inf, -i))
        assert {k: row[f"param_{k}"] for k in GRID} == points[best]
        assert row["train_roi"] == train[best]["roi"]
        oos = _run(week, slice(a + 500, a + 750), points[best])
        assert (row["test_fingerprint"], row["test_pnl_wei"]) == (oos["fingerprint"], oos["pnl_wei"])
    assert wf.oos_pnl_wei == sum(wf.table["test_pnl_wei"])
    assert wf.oos_roi == pytest.approx(wf.oos_pnl_wei / wf.oos_staked_wei)
    assert wf.in_sample_roi is not None


def test_a_dask_cluster_gives_the_same_walk_forward(week: object, cluster: str) -> None:
    args = dict(train_rounds=500, test_rounds=250, config=week.run.config)  # type: ignore[attr-defined]
    local = walk_forward("edge", GRID, week.rounds, week.signals, engine=LocalEngine(), **args)  # type: ignore[arg-type, attr-defined]
    remote = walk_forward("edge", GRID, week.rounds, week.signals, engine=DaskEngine(address=cluster), **args)  # type: ignore[arg-type, attr-defined]
    pd.testing.assert_frame_equal(local.table, remote.table)  # fingerprints included
    assert (local.oos_pnl_wei, local.oos_staked_wei) == (remote.oos_pnl_wei, remote.oos_staked_wei)
    assert remote.engine == "dask"


def test_optuna_search_is_seeded_and_engine_independent(week: object, cluster: str) -> None:
    space = {"min_edge": (0.0, 0.1), "kelly_fraction": (0.05, 0.5)}
    args = dict(n_trials=8, batch=4, seed=7, config=week.run.config)  # type: ignore[attr-defined]
    local = optuna_search("edge", space, week.rounds, week.signals, **args)  # type: ignore[arg-type, attr-defined]
    remote = optuna_search("edge", space, week.rounds, week.signals, engine=DaskEngine(address=cluster), **args)  # type: ignore[arg-type, attr-defined]
    pd.testing.assert_frame_equal(local.trials, remote.trials)
    assert local.best_params == remote.best_params and local.test == remote.test
    split = round(len(week.rounds) * 0.7)  # type: ignore[attr-defined]
    oos = _run(week, slice(split, None), local.best_params)
    assert local.test is not None and local.test["fingerprint"] == oos["fingerprint"]
    assert local.train["sharpe_per_bet"] == max(v for v in local.trials["sharpe_per_bet"] if v is not None)


def test_sweep_walk_forward_and_optuna_through_the_cli(tmp_path: Path) -> None:
    base = [sys.executable, str(ROOT / "main.py"), "sweep", "--strategy", "edge", "--data",
            str(ROOT / "bot/data/BTCUSDT_5m_2025-05_06.csv.gz"), "--json"]
    proc = subprocess.run([*base, "--grid", "min_edge=0.0,0.05", "--walk-forward", "400:200"], capture_output=True,
                          text=True, cwd=ROOT, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert len(data["windows"]) > 10 and "oos_roi" in data and "in_sample_roi" in data
    proc = subprocess.run([*base, "--optuna", "4", "--range", "min_edge=0.0:0.1"], capture_output=True, text=True,
                          cwd=ROOT, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert set(found["best_params"]) == {"min_edge"} and found["test"]["fingerprint"]
    proc = subprocess.run([*base, "--grid", "min_edge=0.0", "--walk-forward", "10000000:5"], capture_output=True,
                          text=True, cwd=ROOT, check=False, timeout=600)
    assert proc.returncode == 2 and "too few" in proc.stderr and "Traceback" not in proc.stderr
