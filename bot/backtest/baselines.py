"""The baselines a strategy is judged against, scored on exactly its rounds, signals and stop rule.

Every baseline runs the same ``EngineConfig`` as the strategy (same rounds, same ``stop_on_ruin``): a baseline that
goes bust stops where the strategy would, so no column is scored on a longer or kinder span than another.

Defaults (``DEFAULT_BASELINES``): ``always_bull``, ``always_bear``, ``crowd`` (bet the bigger pool), ``contrarian``
(bet the smaller pool: the better payout multiple) and ``coin_flip``. A coin flip is a distribution, not a number: one
seed can land anywhere in it (one seed among 2,000 was the lowest of all and printed p = 3.5e-05 for a coin), so it is
reported as its **expectation over ``coin_flip_seeds`` seeds** — the mean of each figure — with the spread of PnL, ROI
and hit rate (5th / 50th / 95th percentile and standard deviation) and the share of seeds that were ruined. Its
p-values are left out (``None``): an average of p-values is not a p-value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bot.backtest.engine import EngineConfig, EngineResult, PreparedRounds, run_engine
from bot.backtest.metrics import compute_metrics
from strategies.registry import build_strategy, strategy_class

DEFAULT_BASELINES: tuple[str, ...] = ("always_bull", "always_bear", "crowd", "contrarian", "coin_flip")
DEFAULT_COIN_FLIP_SEEDS = 200
SPREAD_KEYS: tuple[str, ...] = ("pnl_wei", "roi", "hit_rate", "final_bankroll_wei")
_NO_MEAN = ("hit_rate_pvalue", "bull_pvalue", "bear_pvalue", "ruined_epoch", "ruined_at_epoch", "basis", "ruined")


@dataclass(frozen=True, slots=True)
class BaselineRuns:
    """Metrics per baseline name, and one engine run per baseline for the plots (the coin flip: its first seed)."""

    metrics: dict[str, dict[str, Any]]
    runs: dict[str, EngineResult]


def fixed_stake(bets: pd.DataFrame, min_bet_wei: int, override: int | None) -> int:
    """The baselines' stake: ``override``, else the median of the strategy's stakes on the stake grid (else 10 x the
    minimum bet), never below the minimum bet."""
    if override is not None:
        return int(override)
    stakes = bets["stake_wei"].to_numpy()
    stake = int(np.median(stakes)) if len(stakes) else 10 * min_bet_wei
    return max(stake - stake % min_bet_wei, min_bet_wei)


def coin_flip_expectation(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One metrics dict from the metrics of many seeds: means of the figures, ``spread`` of ``SPREAD_KEYS``."""
    out: dict[str, Any] = {}
    first = per_seed[0]
    for key, value in first.items():
        if key in _NO_MEAN or isinstance(value, bool) or not isinstance(value, int | float | None):
            continue
        values = [float(m[key]) for m in per_seed if m.get(key) is not None]
        out[key] = float(np.mean(values)) if values else None
    for key in ("hit_rate_pvalue", "bull_pvalue", "bear_pvalue"):
        out[key] = None
    spread: dict[str, dict[str, float | None]] = {}
    for key in SPREAD_KEYS:
        arr = np.array([float(m[key]) for m in per_seed if m.get(key) is not None], dtype=np.float64)
        if not len(arr):
            spread[key] = {"p05": None, "p50": None, "p95": None, "std": None}
            continue
        p05, p50, p95 = np.percentile(arr, [5, 50, 95])
        spread[key] = {"p05": float(p05), "p50": float(p50), "p95": float(p95), "std": float(arr.std(ddof=0))}
    ruined = [m.get("ruined_at_epoch") is not None for m in per_seed]
    out.update(
        seeds=len(per_seed),
        spread=spread,
        ruined=None,
        ruined_at_epoch=None,
        ruined_share=float(np.mean(ruined)),
        expectation=True,
        basis=first.get("basis"),
    )
    return out


def run_baselines(
    names: Sequence[str],
    prep: PreparedRounds,
    signals: pd.DataFrame | None,
    config: EngineConfig,
    *,
    stake_wei: int,
    seed: int = 0,
    coin_flip_seeds: int = DEFAULT_COIN_FLIP_SEEDS,
) -> BaselineRuns:
    """Run each baseline with ``stake_wei`` per round under ``config`` (the strategy's own: same stop rule)."""
    metrics: dict[str, dict[str, Any]] = {}
    runs: dict[str, EngineResult] = {}
    for name in names:
        cls = strategy_class(name)
        if cls.name == "coin_flip":
            per_seed = []
            for k in range(max(1, coin_flip_seeds)):
                run = run_engine(prep, signals, build_strategy(cls, {"stake_wei": stake_wei, "seed": seed + k}), config)
                per_seed.append(compute_metrics(run))
                if k == 0:
                    runs[cls.name] = run
            metrics[cls.name] = coin_flip_expectation(per_seed)
            continue
        run = run_engine(prep, signals, build_strategy(cls, {"stake_wei": stake_wei}), config)
        runs[cls.name] = run
        metrics[cls.name] = compute_metrics(run)
    return BaselineRuns(metrics, runs)
