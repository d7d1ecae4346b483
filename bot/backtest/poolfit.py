"""Pools calibrated to reality: the pool model fitted to real rounds, how well it fits, per period, and a warning when
a run's model is far from the real rounds of its era.

With small real pools our own stake dilutes the payout far more: the shipped model (Dec 2021, median ~25 BNB) let a
random forecaster earn +4 % on 2025 candles, where pools fitted to real rounds of the same era ruin it. So:

- ``fit_report(rounds)``: ``fit_pool_model`` plus its quality — Kolmogorov-Smirnov distance of ``ln(total)`` from the
  fitted normal and of the up/down bull shares from their fitted Betas (0 perfect; ~0.05 fine; > 0.15 the model
  misdescribes the pools), the median pool and the period covered;
- ``fit_by_period(rounds, "M")``: one fit per calendar period (real timestamps only);
- ``era_warning``: a model fitted on rounds more than ``MAX_ERA_GAP_DAYS`` away from the candles it is used with, or
  whose median pool is more than ``MAX_MEDIAN_RATIO`` x off the real rounds given for that era, is said to be so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bot.backtest.exact import to_float
from bot.backtest.pools import DEFAULT_POOL_MODEL, PoolModel, PoolModelError, fit_pool_model

MAX_ERA_GAP_DAYS = 180
MAX_MEDIAN_RATIO = 2.0
DEFAULT_ERA = ("2021-12-01", "2021-12-31")  # the shipped slice (bot/data): real V2 BNB rounds of December 2021


@dataclass(frozen=True, slots=True)
class PoolFit:
    model: PoolModel
    rounds: int
    median_total_ether: float
    ks_log_total: float
    ks_up_share: float
    ks_down_share: float
    start: str | None  # ISO date of the first and last round (None: no real timestamps)
    end: str | None

    @property
    def quality(self) -> str:
        worst = max(self.ks_log_total, self.ks_up_share, self.ks_down_share)
        return "good" if worst <= 0.08 else "fair" if worst <= 0.15 else "poor"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "model": self.model.to_dict(), "quality": self.quality}

    def describe(self) -> str:
        era = f"{self.start} .. {self.end}" if self.start else "undated rounds"
        return (
            f"pool model fitted to {self.rounds} real rounds ({era}): median pool {self.median_total_ether:.3g}, "
            f"fit quality {self.quality} (KS ln total {self.ks_log_total:.3f}, bull share up {self.ks_up_share:.3f} / "
            f"down {self.ks_down_share:.3f})"
        )


def _dates(rounds: pd.DataFrame) -> tuple[str | None, str | None]:
    if rounds.attrs.get("timestamps") != "real" or rounds.empty:
        return None, None
    lock = pd.to_datetime(rounds["lock_ts"].to_numpy(dtype=np.int64), unit="s", utc=True)
    return str(lock.min().date()), str(lock.max().date())


def fit_report(rounds: pd.DataFrame) -> PoolFit:
    """Fit the pool model to ``rounds`` and measure the fit (``PoolModelError`` when it cannot be fitted)."""
    model = fit_pool_model(rounds)
    bull = to_float(np.asarray(rounds["bull_wei"].to_numpy()))
    bear = to_float(np.asarray(rounds["bear_wei"].to_numpy()))
    total = bull + bear
    lock = to_float(np.asarray(rounds["lock_price"].to_numpy()))
    close = to_float(np.asarray(rounds["close_price"].to_numpy()))
    executed = rounds["oracle_called"].to_numpy(dtype=bool)
    keep = (total > 0) & executed
    share = np.divide(bull, total, out=np.zeros_like(bull), where=total > 0)
    up = keep & (close > lock)
    down = keep & (close < lock)
    ks_total = stats.kstest(np.log(total[keep]), "norm", args=(model.log_total_mean, model.log_total_std)).statistic
    ks_up = stats.kstest(share[up], "beta", args=(model.up_alpha, model.up_beta)).statistic
    ks_down = stats.kstest(share[down], "beta", args=(model.down_alpha, model.down_beta)).statistic
    start, end = _dates(rounds)
    return PoolFit(model, int(keep.sum()), float(np.median(total[keep])) / 1e18, float(ks_total), float(ks_up),
                   float(ks_down), start, end)


def fit_by_period(rounds: pd.DataFrame, freq: str = "M") -> list[PoolFit]:
    """One ``fit_report`` per calendar period (``M`` month, ``W`` week, ``Q`` quarter); periods too small to fit are
    left out. Needs real timestamps."""
    if rounds.attrs.get("timestamps") != "real":
        raise PoolModelError("fitting per period needs rounds with real timestamps")
    lock = pd.to_datetime(rounds["lock_ts"].to_numpy(dtype=np.int64), unit="s", utc=True).tz_localize(None)
    periods = lock.to_period(freq)
    fits = []
    for period in sorted(set(periods)):
        part = rounds.loc[np.asarray(periods == period)].reset_index(drop=True)
        part.attrs = dict(rounds.attrs)
        try:
            fits.append(fit_report(part))
        except PoolModelError:
            continue
    return fits


def era_warning(model: PoolModel, model_era: tuple[str, str] | None, candles_span: tuple[int, int],
                reference: PoolFit | None = None) -> str | None:
    """A warning line when ``model`` is far from the real pools of the candles' era, else ``None``.

    ``candles_span``: first and last lock (unix s) of the rounds built; ``reference``: a fit to real rounds of that era
    (e.g. ``--pools-from`` recent rounds), compared by median pool.
    """
    median = model.median_total_wei / 1e18
    if reference is not None:
        ratio = median / reference.median_total_ether if reference.median_total_ether > 0 else math.inf
        if not 1 / MAX_MEDIAN_RATIO <= ratio <= MAX_MEDIAN_RATIO:
            return (f"WARNING: the pool model's median pool ({median:.3g}) is {ratio:.2f}x that of the real rounds "
                    f"given ({reference.median_total_ether:.3g}): payouts and dilution are off; fit to those rounds")
        return None
    if model_era is None:
        return None
    era_mid = pd.Timestamp(model_era[0], tz="UTC") + (pd.Timestamp(model_era[1], tz="UTC") - pd.Timestamp(model_era[0], tz="UTC")) / 2
    span_mid = pd.Timestamp((candles_span[0] + candles_span[1]) // 2, unit="s", tz="UTC")
    gap = abs((span_mid - era_mid).days)
    if gap > MAX_ERA_GAP_DAYS:
        return (f"WARNING: the pool model was fitted to real rounds of {model_era[0]} .. {model_era[1]} (median pool "
                f"{median:.3g}), {gap} days from these candles; real pools of other eras differ several-fold (smaller "
                "pools dilute our stake far more): fit pools to recent real rounds (--pools-from FILE, rounds fit-pools)")
    return None


def default_fit_era(model: PoolModel) -> tuple[str, str] | None:
    return DEFAULT_ERA if model == DEFAULT_POOL_MODEL else None
