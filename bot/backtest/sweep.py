"""Parameter search with honest out-of-sample numbers: a grid with a train/test split, walk-forward windows, and an
Optuna search — fanned out on ``bot.backtest.fanout`` (one process, or a Dask cluster).

Every evaluation is one pure task: a strategy (built-in name, base parameters + the point's) run by the vectorised
engine on one slice of the prepared rounds, from a fresh bankroll, returning its metrics and the fingerprint of its
settled bets. Rounds and aligned signals are prepared once per slice and shipped to the workers once.

- ``run_sweep``: every grid point on the train part (the first ``train_fraction`` of rounds by lock time) and the
  test part; ranked by a *train* column — the test columns are what that choice would have earned out of sample.
- ``walk_forward``: rolling windows of ``train_rounds`` then ``test_rounds`` (moving by ``step``); in each window the
  grid point best on train is chosen and scored on the next ``test_rounds`` it never saw. The chained out-of-sample
  result (``oos_*``) is the number a trader should believe; the in-sample best of each window stands next to it.
- ``optuna_search``: a seeded TPE search over ranges/choices on the train part, in batches of parallel trials; the
  best trial's parameters are then scored on the test part.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bot.backtest.engine import EngineConfig, PreparedRounds, bets_fingerprint, run_engine
from bot.backtest.fanout import DaskEngine, Engine, LocalEngine, Session
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
    "ruined",
)
_EXACT = ("pnl_wei", "staked_wei")


@dataclass(frozen=True)
class SweepData:
    """What every worker needs, shipped once: the job and each named slice's prepared rounds and signals."""

    strategy: str
    base_params: dict[str, Any]
    config: EngineConfig
    parts: dict[str, tuple[PreparedRounds, pd.DataFrame]] = field(default_factory=dict)


def evaluate_point(data: SweepData, task: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """One task: the strategy with ``task[1]`` on slice ``task[0]``: ``SWEEP_METRICS``, exact PnL/stake, fingerprint."""
    part, params = task
    prep, signals = data.parts[part]
    strategy = build_strategy(strategy_class(data.strategy), {**data.base_params, **params})
    run = run_engine(prep, signals, strategy, data.config)
    metrics = compute_metrics(run)
    out = {k: metrics[k] for k in (*SWEEP_METRICS, *_EXACT)}
    out["fingerprint"] = bets_fingerprint(run.bets)
    return out


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in order."""
    if not grid:
        return [{}]
    keys = list(grid)
    for key in keys:
        if isinstance(grid[key], str) or not isinstance(grid[key], Sequence) or not grid[key]:
            raise ValueError(f"grid[{key!r}] must be a non-empty list of values")
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def _ordered(rounds: pd.DataFrame, signals: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    if len(signals) != len(rounds):
        raise ValueError("signals must be aligned to rounds (one row per round)")
    order = rounds["lock_ts"].to_numpy().argsort(kind="stable")
    return rounds.iloc[order].reset_index(drop=True), signals.iloc[order].reset_index(drop=True)


def _part(rounds: pd.DataFrame, signals: pd.DataFrame, start: int, stop: int, dialect: str) -> tuple[PreparedRounds, pd.DataFrame]:
    return PreparedRounds.from_frame(rounds.iloc[start:stop], dialect), signals.iloc[start:stop].reset_index(drop=True)


def _split_data(strategy: str, base_params: Mapping[str, Any] | None, cfg: EngineConfig, rounds: pd.DataFrame,
                signals: pd.DataFrame, train_fraction: float) -> tuple[SweepData, int]:
    """The job with a ``train`` part (the first ``train_fraction`` of rounds) and, when rounds are left, ``test``."""
    split = max(1, int(round(len(rounds) * train_fraction)))
    parts = {"train": _part(rounds, signals, 0, split, cfg.dialect)}
    if split < len(rounds):
        parts["test"] = _part(rounds, signals, split, len(rounds), cfg.dialect)
    return SweepData(strategy, dict(base_params or {}), cfg, parts), split


def engine_for(max_workers: int | None, engine: Engine | None) -> Engine:
    """``engine`` when given; else one process for ``max_workers`` <= 1, a local Dask cluster of that size above."""
    if engine is not None:
        return engine
    return LocalEngine() if not max_workers or max_workers <= 1 else DaskEngine(workers=max_workers)


def _check_strategy(strategy: str, base_params: Mapping[str, Any] | None, points: Sequence[Mapping[str, Any]] = ()) -> None:
    """Fail fast (before any cluster starts) on a bad strategy, base parameter or grid key."""
    for point in [{}, *points[:1]]:
        build_strategy(strategy_class(strategy), {**(base_params or {}), **point})


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
    engine: Engine | None = None,
    rank_by: str = "train_sharpe_per_bet",
) -> pd.DataFrame:
    """One row per grid point with train/test metrics (``train_<metric>``, ``test_<metric>``, ``*_fingerprint``),
    best ``rank_by`` first. ``engine`` (or ``max_workers`` > 1: a local Dask cluster) decides where points run."""
    if not 0 < train_fraction <= 1:
        raise ValueError("train_fraction must be in (0, 1]")
    rounds, signals = _ordered(rounds, signals)
    _check_strategy(strategy, base_params, grid_points(grid))
    data, split = _split_data(strategy, base_params, config or EngineConfig(), rounds, signals, train_fraction)
    parts = data.parts
    points = grid_points(grid)
    tasks = [(part, p) for p in points for part in parts]
    with Session(engine_for(max_workers, engine), data) as session:
        results = session.run(evaluate_point, tasks)
    rows = []
    for i, point in enumerate(points):
        row: dict[str, Any] = dict(point)
        for j, part in enumerate(parts):
            res = results[i * len(parts) + j]
            row.update({f"{part}_{k}": v for k, v in res.items() if k not in _EXACT})
        rows.append(row)
    table = pd.DataFrame(rows)
    if rank_by in table.columns:
        table = table.sort_values(rank_by, ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    table.attrs.update(strategy=strategy, train_rounds=split, test_rounds=len(rounds) - split, rank_by=rank_by)
    return table


# --- walk-forward -----------------------------------------------------------------------------------------------------


def windows(n: int, train_rounds: int, test_rounds: int, step: int | None = None) -> list[tuple[int, int, int]]:
    """``(train_start, test_start, test_stop)`` of each rolling window over ``n`` rounds."""
    if train_rounds < 1 or test_rounds < 1:
        raise ValueError("train_rounds and test_rounds must be >= 1")
    stride = step or test_rounds
    out = []
    start = 0
    while start + train_rounds + test_rounds <= n:
        out.append((start, start + train_rounds, start + train_rounds + test_rounds))
        start += stride
    if not out:
        raise ValueError(f"{n} rounds are too few for one window of {train_rounds} train + {test_rounds} test rounds")
    return out


@dataclass
class WalkForward:
    """Per window: the chosen point, its in-sample (train) and out-of-sample (test) figures; chained OOS totals."""

    table: pd.DataFrame  # one row per window
    oos_pnl_wei: int
    oos_staked_wei: int
    oos_roi: float | None
    in_sample_roi: float | None  # the chosen points' train ROI, pooled the same way
    rank_by: str
    engine: str

    def to_dict(self) -> dict[str, Any]:
        records = self.table.to_dict(orient="records")
        clean = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} for r in records]
        return {"windows": clean, "oos_pnl_wei": self.oos_pnl_wei, "oos_staked_wei": self.oos_staked_wei,
                "oos_roi": self.oos_roi, "in_sample_roi": self.in_sample_roi, "rank_by": self.rank_by,
                "engine": self.engine}


def _best(results: list[dict[str, Any]], key: str) -> int:
    """Index of the best result by ``key`` (None/NaN last; ties: the first point)."""
    def score(i: int) -> float:
        v = results[i].get(key)
        return -math.inf if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    return max(range(len(results)), key=lambda i: (score(i), -i))


def walk_forward(
    strategy: str,
    grid: Mapping[str, Sequence[Any]],
    rounds: pd.DataFrame,
    signals: pd.DataFrame,
    *,
    train_rounds: int,
    test_rounds: int,
    step: int | None = None,
    config: EngineConfig | None = None,
    base_params: Mapping[str, Any] | None = None,
    rank_by: str = "sharpe_per_bet",
    engine: Engine | None = None,
) -> WalkForward:
    """Rolling windows: choose on train by ``rank_by`` (a metric name), score the choice on the following test."""
    rounds, signals = _ordered(rounds, signals)
    _check_strategy(strategy, base_params, grid_points(grid))
    cfg = config or EngineConfig()
    spans = windows(len(rounds), train_rounds, test_rounds, step)
    parts: dict[str, tuple[PreparedRounds, pd.DataFrame]] = {}
    for k, (a, b, c) in enumerate(spans):
        parts[f"train{k}"] = _part(rounds, signals, a, b, cfg.dialect)
        parts[f"test{k}"] = _part(rounds, signals, b, c, cfg.dialect)
    data = SweepData(strategy, dict(base_params or {}), cfg, parts)
    points = grid_points(grid)
    chosen_engine = engine or LocalEngine()
    with Session(chosen_engine, data) as session:
        train = session.run(evaluate_point, [(f"train{k}", p) for k in range(len(spans)) for p in points])
        picks = [_best(train[k * len(points) : (k + 1) * len(points)], rank_by) for k in range(len(spans))]
        tests = session.run(evaluate_point, [(f"test{k}", points[i]) for k, i in enumerate(picks)])
    epochs = rounds["epoch"].to_numpy()
    rows = []
    for k, ((a, b, c), i) in enumerate(zip(spans, picks, strict=True)):
        ins, oos = train[k * len(points) + i], tests[k]
        rows.append({
            "window": k, "train_first_epoch": int(epochs[a]), "test_first_epoch": int(epochs[b]),
            "test_last_epoch": int(epochs[c - 1]), **{f"param_{key}": v for key, v in points[i].items()},
            f"train_{rank_by}": ins.get(rank_by), "train_roi": ins["roi"], "train_pnl_wei": ins["pnl_wei"],
            "test_roi": oos["roi"], "test_pnl_wei": oos["pnl_wei"], "test_staked_wei": oos["staked_wei"],
            "test_bets": oos["bets"], "test_hit_rate": oos["hit_rate"], "test_ruined": oos["ruined"],
            "test_fingerprint": oos["fingerprint"],
        })
    pnl = sum(int(r["test_pnl_wei"]) for r in rows)
    staked = sum(int(r["test_staked_wei"]) for r in rows)
    in_pnl = sum(int(train[k * len(points) + i]["pnl_wei"]) for k, i in enumerate(picks))
    in_staked = sum(int(train[k * len(points) + i]["staked_wei"]) for k, i in enumerate(picks))
    return WalkForward(pd.DataFrame(rows), pnl, staked, pnl / staked if staked else None,
                       in_pnl / in_staked if in_staked else None, rank_by, getattr(chosen_engine, "name", "local"))


# --- Optuna -----------------------------------------------------------------------------------------------------------


@dataclass
class SearchResult:
    best_params: dict[str, Any]
    train: dict[str, Any]  # the best trial's train metrics
    test: dict[str, Any] | None  # the same parameters out of sample
    trials: pd.DataFrame  # every trial: params, value
    rank_by: str

    def to_dict(self) -> dict[str, Any]:
        return {"best_params": self.best_params, "train": self.train, "test": self.test, "rank_by": self.rank_by,
                "trials": self.trials.to_dict(orient="records")}


def _suggest(trial: Any, space: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, spec in space.items():
        if isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(v, int | float) for v in spec):
            low, high = spec
            if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
                params[key] = trial.suggest_int(key, low, high)
            else:
                params[key] = trial.suggest_float(key, float(low), float(high))
        elif isinstance(spec, Sequence) and not isinstance(spec, str) and spec:
            params[key] = trial.suggest_categorical(key, list(spec))
        else:
            raise ValueError(f"search space {key!r}: a (low, high) range or a non-empty list of choices")
    return params


def optuna_search(
    strategy: str,
    space: Mapping[str, Any],
    rounds: pd.DataFrame,
    signals: pd.DataFrame,
    *,
    n_trials: int = 40,
    batch: int = 4,
    seed: int = 0,
    train_fraction: float = 0.7,
    config: EngineConfig | None = None,
    base_params: Mapping[str, Any] | None = None,
    rank_by: str = "sharpe_per_bet",
    engine: Engine | None = None,
) -> SearchResult:
    """A seeded TPE search maximising ``rank_by`` on the train part, ``batch`` trials at a time on ``engine``; the best
    parameters are then scored on the test part. Same seed, same trials, whatever the engine."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rounds, signals = _ordered(rounds, signals)
    _check_strategy(strategy, base_params)
    data, _ = _split_data(strategy, base_params, config or EngineConfig(), rounds, signals, train_fraction)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    rows: list[dict[str, Any]] = []
    results: dict[int, dict[str, Any]] = {}
    with Session(engine or LocalEngine(), data) as session:
        done = 0
        while done < n_trials:
            trials = [study.ask() for _ in range(min(batch, n_trials - done))]
            params = [_suggest(t, space) for t in trials]
            for trial, p, res in zip(trials, params, session.run(evaluate_point, [("train", p) for p in params]), strict=True):
                value = res.get(rank_by)
                score = float(value) if isinstance(value, int | float) and math.isfinite(value) else None
                study.tell(trial, score, state=TrialState.COMPLETE if score is not None else TrialState.FAIL)
                results[trial.number] = res
                rows.append({"trial": trial.number, **p, rank_by: value})
            done += len(trials)
        completed = [t for t in study.trials if t.state == TrialState.COMPLETE]
        if not completed:
            raise ValueError(f"no trial produced a {rank_by} (no bets on the train part?)")
        best = study.best_trial
        test = session.run(evaluate_point, [("test", dict(best.params))])[0] if "test" in data.parts else None
    return SearchResult(dict(best.params), results[best.number], test, pd.DataFrame(rows), rank_by)
