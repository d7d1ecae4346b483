"""Backtesting (issue 6): candles and rounds, offline signals, a vectorised exact-wei engine, metrics, reports, sweeps.

Modules: ``feeds`` (ccxt download with a resumable cache, CSV loading, gap detection), ``rounds`` (real round files,
RPC exports, rounds built from candles), ``pools`` (the pool model fitted to real rounds), ``inferences`` (signal logs, offline forecasters,
look-ahead-free alignment), ``engine``/``settlement``/``exact`` (decide and settle every round exactly),
``metrics``/``stats``/``report`` (figures, baselines, table/JSON/PNG/HTML), ``sweep`` (parallel grids with an
out-of-sample split), ``reference`` (the same backtest as a per-round loop), ``synthetic`` (benchmark markets) and
``runner`` (``run_backtest``).
"""

from bot.backtest.engine import EngineConfig, EngineResult, PreparedRounds, bets_fingerprint, build_context, run_engine
from bot.backtest.feeds import Gap, detect_gaps, download_ohlcv, load_csv
from bot.backtest.inferences import align_inferences, get_forecaster, load_inferences, offline_inferences
from bot.backtest.metrics import compute_metrics
from bot.backtest.rounds import (
    DEFAULT_POOL_MODEL,
    PoolModel,
    build_rounds,
    fit_pool_model,
    load_rounds_export,
    load_rounds_file,
    write_rounds_export,
)
from bot.backtest.runner import BacktestError, BacktestResult, BacktestSettings, run_backtest
from bot.backtest.sweep import run_sweep

__all__ = [
    "DEFAULT_POOL_MODEL",
    "BacktestError",
    "BacktestResult",
    "BacktestSettings",
    "EngineConfig",
    "EngineResult",
    "Gap",
    "PoolModel",
    "PreparedRounds",
    "align_inferences",
    "bets_fingerprint",
    "build_context",
    "build_rounds",
    "compute_metrics",
    "detect_gaps",
    "download_ohlcv",
    "fit_pool_model",
    "get_forecaster",
    "load_csv",
    "load_inferences",
    "load_rounds_export",
    "load_rounds_file",
    "offline_inferences",
    "run_backtest",
    "run_engine",
    "run_sweep",
    "write_rounds_export",
]
