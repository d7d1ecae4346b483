"""``run_backtest``: the one call the CLI makes (``python main.py backtest ...``).

From a fresh clone it runs on the shipped data: rounds replayed over ``bot/data/BTCUSDT_5m_2025-05_06.csv.gz`` with
pools drawn from the model fitted to the shipped real PancakeSwap rounds, signals from an offline forecaster (labelled
``offline:<name>``, not Allora), the ``edge`` strategy and the baselines always-bull, coin-flip and follow-the-crowd.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from bot.allora.logexport import SIGNAL_ALLORA, SIGNAL_USER_FILE, offline_label
from bot.backtest.baselines import DEFAULT_BASELINES, DEFAULT_COIN_FLIP_SEEDS, fixed_stake, run_baselines
from bot.backtest.crosscheck import check_candles
from bot.backtest.decision_pools import load_decision_pools, pool_gap, with_decision_pools
from bot.backtest.engine import EngineConfig, EngineResult, PreparedRounds, bets_fingerprint, run_engine
from bot.backtest.feeds import Gap, detect_gaps, load_csv, timeframe_seconds, to_ms
from bot.backtest.inferences import (
    DEFAULT_VOLATILITY,
    align_inferences,
    candle_inferences,
    get_forecaster,
    load_inferences,
    round_price_inferences,
)
from bot.backtest.metrics import compute_metrics
from bot.backtest.poolfit import default_fit_era, era_warning, fit_report
from bot.backtest.rounds import DEFAULT_POOL_MODEL, PoolModel, build_rounds, load_rounds_file
from bot.config import RiskConfig, Settings, StrategyConfig
from bot.errors import InputError
from bot.markets.dialects import dialect_for
from strategies.base import REASON_COL, Strategy
from strategies.registry import build_strategy, load_strategy, strategy_class

POOLS_FINAL = "final (as each round closed: late bets we could not see are in them)"
POOLS_DECISION = "decision-time (what our daemon saw when it decided)"
POOLS_MODEL = "model (drawn from a pool model, not real pools)"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
SHIPPED_CANDLES = DATA_DIR / "BTCUSDT_5m_2025-05_06.csv.gz"
SHIPPED_ROUNDS = DATA_DIR / "pcs-v2-bnb-2021-12-slice.ndjson"


class BacktestError(InputError):
    """The backtest could not be set up (bad inputs, no overlap between data and signals, ...)."""


@dataclass(frozen=True)
class BacktestSettings:
    """Everything about a run except the strategy and the data files (all overridable as ``run_backtest`` kwargs)."""

    fee_bp: int = 300
    min_bet_wei: int = 10**15  # 0.001 BNB, the mainnet deploy config
    bankroll_wei: int = 10**18
    lead_seconds: float = 4.0  # decide this long before lock
    gas_per_bet_wei: int = 10**13  # ~100k gas at 0.1 gwei (BSC, 2025)
    gas_per_claim_wei: int = 10**13
    dialect: Literal["v2", "v3", "ai"] = "v2"
    interval_seconds: int = 300
    delay_seconds: int = 0  # lock -> executeRound delay when building rounds from candles
    timeframe: str | None = None  # candle timeframe; inferred from the file when None
    pool_model: PoolModel | None = None  # None: fitted to the shipped real rounds
    missed_execution_rate: float = 0.0
    seed: int = 0
    forecaster: str = "momentum"  # offline forecaster when no inference log is given
    forecaster_params: Mapping[str, Any] = field(default_factory=dict)
    ai_forecaster: str = "random"  # AI dialect on candles: stands in for the on-chain AI price
    volatility: float = DEFAULT_VOLATILITY  # to turn logged predicted returns into p_up
    max_signal_age: float | None = 900.0
    rebalance_every: int | None = None
    stop_on_ruin: bool = True
    baselines: Sequence[str] = DEFAULT_BASELINES
    coin_flip_seeds: int = DEFAULT_COIN_FLIP_SEEDS  # the coin flip is reported as its mean over this many seeds
    baseline_stake_wei: int | None = None  # None: the median stake of the strategy's bets (else 10 x min bet)
    start: int | str | None = None  # keep rounds locking at/after this (unix ms, or ISO date)
    end: int | str | None = None  # ... and before this
    price_decimals: int = 8
    risk: RiskConfig | None = None  # the daemon's risk limits (config ``risk``); None: no limits
    pools_from: str | None = None  # real rounds file to fit the pool model to (rounds built from candles)
    decision_pools: str | None = None  # `rounds export --decision-pools` file: decide on the pools the daemon saw

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            fee_bp=self.fee_bp,
            min_bet_wei=self.min_bet_wei,
            bankroll_wei=self.bankroll_wei,
            lead_seconds=self.lead_seconds,
            gas_per_bet_wei=self.gas_per_bet_wei,
            gas_per_claim_wei=self.gas_per_claim_wei,
            dialect=self.dialect,
            stop_on_ruin=self.stop_on_ruin,
            rebalance_every=self.rebalance_every,
            risk=self.risk,
        )


@dataclass
class BacktestResult:
    """A finished backtest: inputs described, the strategy's run, its metrics and the baselines' metrics."""

    strategy: str
    strategy_params: dict[str, Any]
    settings: BacktestSettings
    rounds: pd.DataFrame
    signals: pd.DataFrame
    signal_source: str
    signal_provenance: str
    pools_source: str
    run: EngineResult
    metrics: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    baseline_runs: dict[str, EngineResult]
    fingerprint: str
    data_source: str
    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pools: dict[str, Any] = field(default_factory=dict)  # source, fit (and its quality), final-vs-decision gap

    @property
    def signal_is_allora(self) -> bool:
        return self.signal_provenance == SIGNAL_ALLORA

    def to_json(self) -> dict[str, Any]:
        from bot.backtest.report import to_json

        return to_json(self)

    def print(self) -> None:
        from bot.backtest.report import print_report

        print_report(self)

    def save_report(self, out_dir: str | Path) -> dict[str, Path]:
        from bot.backtest.report import save_report

        return save_report(self, out_dir)


def _settings(settings: BacktestSettings | None, overrides: Mapping[str, Any]) -> BacktestSettings:
    base = settings or BacktestSettings()
    known = {f.name for f in fields(BacktestSettings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise BacktestError(f"unknown backtest setting(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    try:
        out = replace(base, **overrides)
    except (TypeError, ValueError) as exc:
        raise BacktestError(str(exc)) from None
    check_settings(out)
    return out


def check_settings(cfg: BacktestSettings) -> None:
    """Refuse settings that would look ahead or cannot be money: a negative lead decides *after* the lock (every
    signal published up to the lock would leak into the decision), and amounts must be whole wei within int64."""
    if not (isinstance(cfg.lead_seconds, int | float) and math.isfinite(cfg.lead_seconds) and cfg.lead_seconds >= 0):
        raise BacktestError(
            f"lead_seconds must be >= 0 (decide before the lock), got {cfg.lead_seconds!r}: a negative lead is look-ahead"
        )
    if cfg.max_signal_age is not None and not cfg.max_signal_age > 0:
        raise BacktestError(f"max_signal_age must be > 0 or None, got {cfg.max_signal_age!r}")
    for name in ("bankroll_wei", "min_bet_wei", "gas_per_bet_wei", "gas_per_claim_wei", "baseline_stake_wei"):
        check_wei(name, getattr(cfg, name), allow_none=name == "baseline_stake_wei")
    if cfg.coin_flip_seeds < 1:
        raise BacktestError(f"coin_flip_seeds must be >= 1, got {cfg.coin_flip_seeds}")


INT64_MAX = 2**63 - 1


def check_wei(name: str, value: Any, *, allow_none: bool = False) -> None:
    """A wei setting: a whole number (an int, or a float/text holding one exactly), >= 0 and below 2**63 — the
    vectorised engine holds stakes and bankrolls in int64; beyond it an amount would wrap, so it is an error instead."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise BacktestError(f"{name} must be a whole number of wei, got {value!r}")
    if value < 0:
        raise BacktestError(f"{name} must be >= 0, got {value}")
    if value > INT64_MAX:
        raise BacktestError(
            f"{name} = {value} wei is beyond the engine's int64 range (max {INT64_MAX} wei, ~9.2 coins of 18 "
            "decimals): use a smaller bankroll/stake or a coin with fewer decimals"
        )


def from_config(config: Settings, *, strategy: str | None = None, params: Mapping[str, Any] | None = None,
                use_risk: bool = True) -> tuple[StrategyConfig, dict[str, Any]]:
    """The strategy and backtest settings the daemon's config implies: its ``strategy`` (name, file, params), its
    ``risk`` limits and ``execution.lead_seconds``. ``strategy`` (a built-in name) and ``params`` override it: the
    config's params are kept when the name is the config's own."""
    own = config.strategy
    if strategy is None or strategy == own.name and not own.file:
        chosen = StrategyConfig(name=own.name, file=own.file, class_name=own.class_name,
                                params={**own.params, **(params or {})})
    else:
        chosen = StrategyConfig(name=strategy, params=dict(params or {}))
    overrides: dict[str, Any] = {"lead_seconds": float(config.execution.lead_seconds)}
    if use_risk:
        overrides["risk"] = config.risk
    return chosen, overrides


def _strategy(strategy: str | StrategyConfig | Strategy, params: Mapping[str, Any] | None) -> Strategy:
    if isinstance(strategy, Strategy):
        if params:
            raise BacktestError("params cannot be combined with a Strategy instance")
        return strategy
    if isinstance(strategy, StrategyConfig):
        merged = StrategyConfig(
            name=strategy.name, file=strategy.file, class_name=strategy.class_name, params={**strategy.params, **(params or {})}
        )
        return load_strategy(merged)
    return build_strategy(strategy_class(strategy), dict(params or {}))


def _filter_time(rounds: pd.DataFrame, start: int | str | None, end: int | str | None) -> pd.DataFrame:
    if start is None and end is None:
        return rounds
    lock_ms = rounds["lock_ts"].to_numpy(dtype=np.int64) * 1000
    keep = np.ones(len(rounds), dtype=bool)
    if start is not None:
        keep &= lock_ms >= (to_ms(start) or 0)
    if end is not None:
        keep &= lock_ms < (to_ms(end) or 0)
    out = rounds.loc[keep].reset_index(drop=True)
    out.attrs = dict(rounds.attrs)
    return out


def _load_candles(data: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        from bot.backtest.feeds import normalise_candles

        return normalise_candles(data), "candles:dataframe"
    path = Path(data)
    return load_csv(path), f"candles:{path.name}"


def run_backtest(
    strategy: str | StrategyConfig | Strategy = "edge",
    *,
    params: Mapping[str, Any] | None = None,
    data: str | Path | pd.DataFrame | None = None,
    rounds_file: str | Path | None = None,
    inferences: str | Path | pd.DataFrame | None = None,
    settings: BacktestSettings | None = None,
    **overrides: Any,
) -> BacktestResult:
    """Run one backtest and its baselines.

    - ``strategy``: a built-in name (``edge``, ``follow``, ``ai_follow``, ...), a ``StrategyConfig`` (name or user
      file + class) or a ``Strategy`` instance; ``params`` are its parameters.
    - ``data``: a candle CSV (``open_time_ms, open, high, low, close, volume``) or DataFrame. Without ``rounds_file``
      rounds are built from it (settled on these candles); default: the shipped BTC/USDT 5m slice.
    - ``rounds_file``: real rounds (``bot/data``'s PancakeSwap ndjson) or an RPC export (see ``bot.backtest.rounds``).
    - ``inferences``: a signal log (CSV/ndjson/DataFrame: time + ``p_up`` or a predicted return); without it an
      offline forecaster (``settings.forecaster``) runs over ``data``'s candles, or over the rounds' own lock prices.
    - ``settings`` / ``**overrides``: ``BacktestSettings`` fields (fee, bankroll, gas, lead, seed, dialect, ...).
    """
    cfg = _settings(settings, overrides)
    strat = _strategy(strategy, params)
    notes: list[str] = [
        "stakes are sized from the initial bankroll"
        if cfg.rebalance_every is None
        else f"stakes are re-sized from the bankroll every {cfg.rebalance_every} rounds",
    ]
    candles: pd.DataFrame | None = None
    gaps: list[Gap] = []
    if data is not None or rounds_file is None:
        candles, data_source = _load_candles(data if data is not None else SHIPPED_CANDLES)
        tf_s = timeframe_seconds(cfg.timeframe) if cfg.timeframe else None
        gaps = detect_gaps(candles, tf_s or _median_step(candles))
        if gaps:
            notes.append(f"{len(gaps)} gap(s) in the candles: rounds across them are dropped, never interpolated")
    if rounds_file is not None:
        rounds = load_rounds_file(
            rounds_file, fee_bp=cfg.fee_bp, interval_seconds=cfg.interval_seconds, price_decimals=cfg.price_decimals
        )
        if rounds.attrs.get("never_executed"):
            notes.append(f"{rounds.attrs['never_executed']} round(s) never executed (oracleCalled false): stakes refunded")
        data_source = f"rounds:{Path(rounds_file).name}"
        if rounds.attrs.get("timestamps") == "synthetic":
            notes.append("the rounds file has no timestamps: times are epoch x interval from an arbitrary origin")
    else:
        assert candles is not None
        pool_model, pools_info = _pool_model(cfg, candles, notes)
        ai = get_forecaster(cfg.ai_forecaster, seed=cfg.seed + 1) if dialect_for(cfg.dialect).ai_positions else None
        if ai is not None:
            notes.append(f"on-chain AI prices stood in for by offline:{ai.name}")
        rounds = build_rounds(
            candles,
            timeframe=cfg.timeframe,
            interval_seconds=cfg.interval_seconds,
            delay_seconds=cfg.delay_seconds,
            pool_model=pool_model,
            seed=cfg.seed,
            price_decimals=cfg.price_decimals,
            missed_execution_rate=cfg.missed_execution_rate,
            ai_forecaster=ai,
            source=data_source,
        )
    rounds = _filter_time(rounds, cfg.start, cfg.end)
    if rounds.empty:
        raise BacktestError("no rounds to backtest (check start/end and the data)")

    pools_source = POOLS_MODEL if rounds_file is None else POOLS_FINAL
    if rounds_file is None:
        pools_info["source"] = pools_source
    else:
        pools_info = {"source": pools_source}
        if cfg.decision_pools:
            rounds = with_decision_pools(rounds, load_decision_pools(cfg.decision_pools))
            gap = pool_gap(rounds)
            notes.append(gap.describe())
            pools_info["gap"] = gap.to_dict()
            if gap.matched:
                pools_source = pools_info["source"] = f"{POOLS_DECISION} on {gap.matched} round(s), final elsewhere"
    notes.insert(0, f"pools: {pools_source}; decisions see each round's final pools (late bets are not modelled): optimistic")
    signals, signal_source, provenance = _signals(rounds, candles, inferences, cfg, notes)
    engine_cfg = cfg.engine_config()
    prep = PreparedRounds.from_frame(rounds, cfg.dialect)
    run = run_engine(prep, signals, strat, engine_cfg)
    metrics = compute_metrics(run)
    if cfg.risk is not None:
        reasons = run.decisions[REASON_COL].astype(str)
        denied = reasons[reasons.str.startswith("risk ")].value_counts()
        counts = ", ".join(f"{k.removeprefix('risk ')} {v}" for k, v in denied.items()) or "none denied"
        notes.append(f"the config's risk limits applied as the daemon applies them (bets denied: {counts})")

    stake = fixed_stake(run.bets, cfg.min_bet_wei, cfg.baseline_stake_wei)
    # the baselines run under the strategy's own config: same rounds, same signals, same stop rule
    baselines = run_baselines(
        cfg.baselines, prep, signals, engine_cfg, stake_wei=stake, seed=cfg.seed, coin_flip_seeds=cfg.coin_flip_seeds
    )
    if cfg.baselines:
        stop = "stop when ruined, like the strategy" if engine_cfg.stop_on_ruin else "keep betting below zero, like the strategy"
        notes.append(f"baselines bet a fixed {stake / 10**18:g} per round on the same rounds and {stop}")
        if "coin_flip" in baselines.metrics:
            notes.append(
                f"coin_flip is the expectation over {baselines.metrics['coin_flip']['seeds']} seeds "
                "(mean; spread in the JSON), not one lucky or unlucky seed"
            )
    notes[:0] = ruin_notes(strat.name, metrics, baselines.metrics)
    return BacktestResult(
        strategy=strat.name,
        strategy_params=strat.params(),
        settings=cfg,
        rounds=rounds,
        signals=signals,
        signal_source=signal_source,
        signal_provenance=provenance,
        pools_source=pools_source,
        run=run,
        metrics=metrics,
        baselines=baselines.metrics,
        baseline_runs=baselines.runs,
        fingerprint=bets_fingerprint(run.bets),
        data_source=data_source,
        gaps=gaps,
        notes=notes,
        pools=pools_info,
    )


def ruin_notes(strategy: str, metrics: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per ruined run (the strategy's first), with the epoch and the rounds it lasted."""
    notes = []
    for name, m in [(strategy, metrics), *baselines.items()]:
        if m.get("ruined"):
            roi = m.get("final_bankroll_wei", 0) / m["bankroll_wei"] - 1 if m.get("bankroll_wei") else None
            change = f" ({100 * roi:+.1f} % of bankroll)" if roi is not None else ""
            notes.append(
                f"RUINED: {name} could not cover its next bet at epoch {m['ruined_at_epoch']} after "
                f"{m['rounds_played']} of {m['rounds']} rounds{change}; it stopped betting there"
            )
        elif m.get("ruined_share"):
            notes.append(f"RUINED: {name} was ruined in {100 * m['ruined_share']:.1f} % of its seeds")
    return notes


def _pool_model(cfg: BacktestSettings, candles: pd.DataFrame, notes: list[str]) -> tuple[PoolModel, dict[str, Any]]:
    """The pool model for rounds built from candles, its fit report and an era warning, as notes and a dict."""
    info: dict[str, Any] = {}
    if cfg.pools_from:
        real = load_rounds_file(cfg.pools_from, fee_bp=cfg.fee_bp, price_decimals=cfg.price_decimals)
        fit = fit_report(real)
        notes.append(fit.describe())
        info["fit"] = fit.to_dict()
        return fit.model, info
    model = cfg.pool_model or DEFAULT_POOL_MODEL
    era = default_fit_era(model)
    if cfg.pool_model is None:
        notes.append("pools drawn from the model fitted to the shipped real PancakeSwap rounds (Dec 2021)")
    times = candles["open_time_ms"].to_numpy(dtype=np.int64) // 1000
    warning = era_warning(model, era, (int(times[0]), int(times[-1]))) if len(times) else None
    if warning:
        notes.insert(0, warning)
        info["warning"] = warning
    info["model"] = model.to_dict()
    return model, info


def _median_step(candles: pd.DataFrame) -> int:
    times = candles["open_time_ms"].to_numpy(dtype=np.int64)
    if len(times) < 2:
        return 300
    return max(int(np.median(np.diff(times))) // 1000, 1)


def _signals(
    rounds: pd.DataFrame,
    candles: pd.DataFrame | None,
    inferences: str | Path | pd.DataFrame | None,
    cfg: BacktestSettings,
    notes: list[str],
) -> tuple[pd.DataFrame, str, str]:
    if inferences is not None:
        frame = load_inferences(inferences, volatility=cfg.volatility)
        sources = sorted(set(frame["source"].astype(str)))
        source = sources[0] if len(sources) == 1 else "log:mixed"
        provenance = str(frame.attrs.get("provenance", SIGNAL_USER_FILE))
        if frame.attrs.get("rejected_rows"):
            notes.append(f"{frame.attrs['rejected_rows']} rejected inference(s) in the log left out (never acted on)")
        if frame.attrs.get("aligned_on") == "fetch time":
            notes.append("inferences count from when the bot fetched them (never the network's earlier timestamp)")
        if provenance != SIGNAL_ALLORA:
            notes.append(f"signals: {provenance} — NOT evidence about Allora's predictions")
    else:
        forecaster = get_forecaster(cfg.forecaster, **dict(cfg.forecaster_params))
        real_times = rounds.attrs.get("timestamps") == "real"
        if candles is not None and real_times and _overlaps(rounds, candles):
            tf = timeframe_seconds(cfg.timeframe) if cfg.timeframe else _median_step(candles)
            if rounds.attrs.get("source", "").startswith(("export:", "file:", "contract:")):  # not built from them
                fit = check_candles(rounds, candles, tf)
                notes.append(
                    f"candles cross-checked with the rounds' oracle prices: best fit at {fit.offset_seconds:+d} s, "
                    f"median difference {100 * fit.median_diff:.4f} % over {fit.points} prices"
                )
            frame = candle_inferences(candles, forecaster, tf)
        else:
            if candles is not None:
                notes.append("candles do not cover the rounds' times: forecasting from the rounds' own lock prices")
            frame = round_price_inferences(rounds, forecaster)
        source = f"offline:{forecaster.name}"
        provenance = offline_label(forecaster.name)
        notes.append(f"signals: {source} — an offline stand-in, NOT Allora predictions")
    signals = align_inferences(rounds, frame, cfg.lead_seconds, cfg.max_signal_age)
    covered = int(signals["p_up"].notna().sum())
    if covered == 0:
        raise BacktestError("no signal precedes any round's decision time (check the inference timestamps)")
    if covered < len(rounds):
        notes.append(f"{len(rounds) - covered} of {len(rounds)} rounds have no usable signal (skipped by signal strategies)")
    return signals, source, provenance


def _overlaps(rounds: pd.DataFrame, candles: pd.DataFrame) -> bool:
    if candles.empty or rounds.empty:
        return False
    first = int(candles["open_time_ms"].iloc[0]) // 1000
    last = int(candles["open_time_ms"].iloc[-1]) // 1000
    lock = rounds["lock_ts"].to_numpy()
    return bool(((lock >= first) & (lock <= last)).mean() > 0.5)


def settings_dict(settings: BacktestSettings) -> dict[str, Any]:
    """JSON-ready settings (pool model as a dict, wei as ints)."""
    out = asdict(settings)
    out["baselines"] = list(settings.baselines)
    out["forecaster_params"] = dict(settings.forecaster_params)
    if settings.pool_model is not None:
        out["pool_model"] = settings.pool_model.to_dict()
    if settings.risk is not None:
        out["risk"] = settings.risk.model_dump(mode="json")
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
