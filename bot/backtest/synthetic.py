"""Synthetic markets for benchmarks and property tests: rounds plus an aligned signal with a known, tunable skill."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from bot.backtest.rounds import DEFAULT_POOL_MODEL, PoolModel

SYNTHETIC_POOL_SCALE = 0.04  # median total ~1 BNB: every pool fits int64, like today's smaller BSC markets


def synthetic_market(
    n: int,
    *,
    seed: int = 0,
    skill: float = 0.1,
    volatility: float = 0.0015,
    pool_model: PoolModel | None = None,
    interval_seconds: int = 300,
    start_ts: int = 1_700_000_000,
    price_decimals: int = 8,
    missed_execution_rate: float = 0.001,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` consecutive rounds and their signals (``p_up``, ``predicted_return``, ``signal_age``).

    Each round's log-return is ``volatility * (skill * u + sqrt(1 - skill^2) * e)`` with ``u, e ~ N(0, 1)``; the
    signal sees ``u``: ``predicted_return = volatility * skill * u`` and the calibrated
    ``p_up = Phi(skill * u / sqrt(1 - skill^2))``. Pools come from ``pool_model`` (default: the real-rounds fit
    scaled by ``SYNTHETIC_POOL_SCALE``), conditioned on the outcome like the real crowd's lean.
    """
    if not 0 <= skill < 1:
        raise ValueError("skill must be in [0, 1)")
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(n)
    e = rng.standard_normal(n)
    noise = np.sqrt(1.0 - skill * skill)
    ret = volatility * (skill * u + noise * e)
    price = 30_000.0 * np.exp(np.concatenate(([0.0], np.cumsum(ret))))
    raw = np.round(price * 10.0**price_decimals).astype(np.int64)
    lock, close = raw[:-1], raw[1:]
    move = np.where(close > lock, 0, np.where(close < lock, 1, 2)).astype(np.int8)
    model = pool_model or DEFAULT_POOL_MODEL.scaled(SYNTHETIC_POOL_SCALE)
    bull, bear = model.sample(n, rng, move)
    lock_ts = start_ts + interval_seconds * np.arange(1, n + 1, dtype=np.int64)
    rounds = pd.DataFrame(
        {
            "epoch": np.arange(1, n + 1, dtype=np.int64),
            "start_ts": lock_ts - interval_seconds,
            "lock_ts": lock_ts,
            "close_ts": lock_ts + interval_seconds,
            "lock_price": lock,
            "close_price": close,
            "bull_wei": bull,
            "bear_wei": bear,
            "oracle_called": rng.random(n) >= missed_execution_rate,
        },
        copy=False,
    )
    rounds.attrs.update(source=f"synthetic:seed={seed},skill={skill}", price_decimals=price_decimals, timestamps="synthetic")
    z = skill * u / noise if noise > 0 else np.sign(u) * np.inf
    signals = pd.DataFrame(
        {
            "p_up": ndtr(z),
            "predicted_return": volatility * skill * u,
            "signal_age": np.full(n, float(interval_seconds) - 4.0),
            "signal_ts_ms": (lock_ts - interval_seconds) * 1000.0,
        },
        copy=False,
    )
    return rounds, signals
