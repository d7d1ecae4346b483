"""The pool model for rounds built from candles: how much is bet per round, and how it splits bull/bear.

Fitted to real PancakeSwap rounds (``fit_pool_model``); ``DEFAULT_POOL_MODEL`` is the fit on the shipped slice.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.backtest.exact import as_wei_array, to_float
from bot.errors import InputError
from bot.money import pool_quantum


class PoolModelError(InputError):
    """Pools could not be fitted."""


@dataclass(frozen=True, slots=True)
class PoolModel:
    """Pools for rounds built from candles: a lognormal total (wei) and a Beta-distributed bull share.

    ``log_total_mean``/``log_total_std``: mean and standard deviation of ``ln(total wei)``. The bull share
    ``bull / total`` is Beta(``up_alpha``, ``up_beta``) in rounds that close up and Beta(``down_alpha``, ``down_beta``)
    in rounds that close down (draws and unexecuted rounds pick one of the two at random). Real final pools lean
    towards the winning side — late money sees more of the move — and a model without that lean would make betting the
    smaller pool look free money. ``fit_pool_model`` estimates all six numbers from real rounds; ``without_crowd_skill``
    makes the share independent of the outcome.
    """

    log_total_mean: float
    log_total_std: float
    up_alpha: float
    up_beta: float
    down_alpha: float
    down_beta: float

    def sample(
        self, n: int, rng: np.random.Generator, outcome: npt.NDArray[np.int8] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` (bull, bear) pools in wei: int64 arrays, or object arrays when a total exceeds int64.

        Pools are whole multiples of ``bot.money.pool_quantum(median)`` (1e13 wei for the shipped ~25 BNB model).

        ``outcome`` (0 up, 1 down, other: either at random) selects each round's share distribution.
        """
        quantum = pool_quantum(self.median_total_wei)
        # The one float -> wei rule (bot.money): pools are whole multiples of ``quantum``, counted in units of it as
        # exact integers held in float64 (a total of 2**53 units is ~9e28 wei), so numpy's exp/beta noise stays out.
        total = np.floor(np.exp(rng.normal(self.log_total_mean, self.log_total_std, n)) / float(quantum))
        up_share = rng.beta(self.up_alpha, self.up_beta, n)
        down_share = rng.beta(self.down_alpha, self.down_beta, n)
        coin = rng.random(n) < 0.5
        if outcome is None:
            up = coin
        else:
            up = np.where(outcome == 0, True, np.where(outcome == 1, False, coin))
        share = np.where(up, up_share, down_share)
        bull = np.floor(total * share)
        bear = total - bull
        if n == 0 or float(total.max()) * quantum < 2.0**62:
            return bull.astype(np.int64) * np.int64(quantum), bear.astype(np.int64) * np.int64(quantum)
        return as_wei_array([int(v) * quantum for v in bull]), as_wei_array([int(v) * quantum for v in bear])

    def scaled(self, factor: float) -> PoolModel:
        """The same model with every pool multiplied by ``factor`` (e.g. a smaller market)."""
        return replace(self, log_total_mean=self.log_total_mean + math.log(factor))

    def without_crowd_skill(self) -> PoolModel:
        """Shares drawn independently of the outcome (the average of the two Beta fits, by moments)."""
        mean = (_beta_mean(self.up_alpha, self.up_beta) + _beta_mean(self.down_alpha, self.down_beta)) / 2
        conc = (self.up_alpha + self.up_beta + self.down_alpha + self.down_beta) / 2
        return replace(self, up_alpha=mean * conc, up_beta=(1 - mean) * conc, down_alpha=mean * conc, down_beta=(1 - mean) * conc)

    @property
    def median_total_wei(self) -> float:
        return math.exp(self.log_total_mean)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _beta_mean(alpha: float, beta: float) -> float:
    return alpha / (alpha + beta)


def _fit_beta(share: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Method-of-moments Beta fit."""
    mean = float(share.mean())
    var = float(share.var(ddof=1))
    if not 0 < mean < 1 or var <= 0 or var >= mean * (1 - mean):
        raise PoolModelError("fit_pool_model: bull shares do not fit a Beta distribution (degenerate)")
    common = mean * (1 - mean) / var - 1
    return mean * common, (1 - mean) * common


def fit_pool_model(rounds: pd.DataFrame) -> PoolModel:
    """Fit a ``PoolModel`` to real rounds: ML lognormal total; moment-matched Beta shares for up and down rounds."""
    bull = to_float(np.asarray(rounds["bull_wei"].to_numpy()))
    bear = to_float(np.asarray(rounds["bear_wei"].to_numpy()))
    total = bull + bear
    lock = rounds["lock_price"].to_numpy()
    close = rounds["close_price"].to_numpy()
    executed = rounds["oracle_called"].to_numpy(dtype=bool)
    outcome = np.where(np.asarray(close > lock, dtype=bool), 0, np.where(np.asarray(close < lock, dtype=bool), 1, 2))
    outcome[~executed] = 3
    keep = (total > 0) & np.isfinite(total)
    up = keep & (outcome == 0)
    down = keep & (outcome == 1)
    if up.sum() < 10 or down.sum() < 10:
        raise PoolModelError(
            f"fit_pool_model needs at least 10 up and 10 down rounds with a pool, got {int(up.sum())} and {int(down.sum())}"
        )
    log_total = np.log(total[keep])
    share = np.divide(bull, total, out=np.zeros_like(bull), where=total > 0)
    ua, ub = _fit_beta(share[up])
    da, db = _fit_beta(share[down])
    return PoolModel(float(log_total.mean()), float(log_total.std(ddof=1)), ua, ub, da, db)


# Fitted on bot/data/pcs-v2-bnb-2021-12-slice.ndjson (1,000 real PCS V2 BNB rounds, Dec 2021): median total ~25 BNB,
# bull share ~0.506 in up rounds and ~0.481 in down rounds. A test pins that the fit reproduces these numbers.
DEFAULT_POOL_MODEL = PoolModel(
    log_total_mean=44.6704835101,
    log_total_std=0.4251139693,
    up_alpha=14.2933682796,
    up_beta=13.9704347974,
    down_alpha=12.2648944264,
    down_beta=13.2128365777,
)
