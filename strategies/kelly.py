"""Parimutuel expected value and Kelly sizing, including the dilution of our own stake.

Notation, per round and side: ``S`` the side's pool and ``T`` the total pool *before* our bet, ``b`` our stake,
``f`` the fee (``fee_bp / 10_000``), ``g = 1 - f`` and ``q`` the probability that the side wins.

- Gross multiple of a winning stake: ``m(b) = (T + b) * g / (S + b)`` — our own stake joins the side pool, so the more we
  bet the lower the multiple (``bot.payout.gross_multiple`` is the scalar twin; the exact wei payout is
  ``bot.payout.expected_payout_if_win``).
- Expected value per unit staked: ``EV(b) = q * m(b) - 1``.
- Kelly fraction at a fixed multiple ``m``: ``k(m) = (q*m - 1) / (m - 1)``.

Because ``m`` depends on ``b``, the stake we want is the *consistent* one: ``b = c * W * k(m(b))`` (``c`` the Kelly
fraction, ``W`` the bankroll), i.e. the fixed point a few iterations ``b <- c W k(m(b))`` converge to. Multiplying out
gives a quadratic with exactly one root in ``(0, b_ev0)`` (``b_ev0`` the stake at which EV reaches 0) whenever
``q g T > S``:

    -(1 - g) b^2 + (g T - S + A (1 - q g)) b - A (q g T - S) = 0,      A = c W

and we take that root in closed form, ``b* = 2 A E / (a1 + sqrt(a1^2 - 4 (1 - g) A E))`` with ``E = q g T - S`` and
``a1 = g T - S + A (1 - q g)`` (the cancellation-free form; with ``f = 0`` it reduces to the linear solution). This is
the Kelly stake evaluated at the odds that stake itself produces. The exact growth optimum would also account for the
slope of ``m(b)`` and is slightly smaller; with fractional Kelly and the stake caps the difference is immaterial, and
the fixed point is what a bettor re-running Kelly after seeing their own bet in the pool would converge to.

All functions are vectorised over NumPy arrays (float64 wei, statistics only) and have a scalar twin used by the
per-round reference loop and the tests.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

BP = 10_000.0
FloatArray = npt.NDArray[np.float64]


def _g(fee_bp: FloatArray | float) -> FloatArray:
    return np.asarray(1.0 - np.asarray(fee_bp, dtype=np.float64) / BP, dtype=np.float64)


def gross_multiple(side_pool: FloatArray, total_pool: FloatArray, fee_bp: FloatArray, stake: FloatArray) -> FloatArray:
    """``(T + b)(1 - fee) / (S + b)``; 0 where ``S + b == 0``."""
    denom = np.asarray(side_pool, dtype=np.float64) + stake
    with np.errstate(divide="ignore", invalid="ignore"):
        mult = (total_pool + stake) * _g(fee_bp) / denom
    return np.where(denom > 0, mult, 0.0)


def expected_value(
    q: FloatArray, side_pool: FloatArray, total_pool: FloatArray, fee_bp: FloatArray, stake: FloatArray
) -> FloatArray:
    """Expected profit per unit staked, ``q * m(b) - 1`` (the draw probability is neglected: draws are rare)."""
    return q * gross_multiple(side_pool, total_pool, fee_bp, stake) - 1.0


def kelly_stake_g(q: FloatArray, side_pool: FloatArray, total_pool: FloatArray, g: FloatArray, scale: FloatArray) -> FloatArray:
    """The closed-form fixed point with ``g = 1 - fee`` and ``scale = kelly_fraction * bankroll`` (hot path)."""
    qg = q * g
    edge = qg * total_pool - side_pool
    a1 = g * total_pool - side_pool + scale * (1.0 - qg)
    disc = a1 * a1 - 4.0 * (1.0 - g) * scale * edge
    with np.errstate(divide="ignore", invalid="ignore"):
        root = 2.0 * scale * edge / (a1 + np.sqrt(np.fmax(disc, 0.0)))
        # rows without an edge (or NaN inputs) stake nothing; fmax drops the NaN that inf * 0 makes
        return np.fmax(root * (edge > 0), 0.0)


def kelly_stake(
    q: FloatArray, side_pool: FloatArray, total_pool: FloatArray, fee_bp: FloatArray, bankroll: FloatArray, fraction: float
) -> FloatArray:
    """The dilution-consistent fractional Kelly stake in wei (0 where there is no edge at an infinitesimal stake)."""
    scale = fraction * np.asarray(bankroll, dtype=np.float64)
    return kelly_stake_g(np.asarray(q, dtype=np.float64), side_pool, total_pool, _g(fee_bp), scale)


def edge_cap_g(q: FloatArray, side_pool: FloatArray, total_pool: FloatArray, g: FloatArray, min_edge: float) -> FloatArray:
    """Largest stake whose EV after dilution is still ``>= min_edge`` (negative: not even an infinitesimal stake)."""
    k = 1.0 + min_edge
    qg = q * g
    with np.errstate(divide="ignore", invalid="ignore"):
        return (qg * total_pool - k * side_pool) / (k - qg)


def edge_cap(q: FloatArray, side_pool: FloatArray, total_pool: FloatArray, fee_bp: FloatArray, min_edge: float) -> FloatArray:
    """Largest stake whose EV (after dilution) is still ``>= min_edge``; ``inf`` when dilution can never get there."""
    g = _g(fee_bp)
    cap = edge_cap_g(np.asarray(q, dtype=np.float64), side_pool, total_pool, g, min_edge)
    return np.where(1.0 + min_edge > q * g, cap, np.inf)


# --- scalar twins (reference loop, tests) -----------------------------------------------------------------------------


def gross_multiple_scalar(side_pool: float, total_pool: float, fee_bp: float, stake: float) -> float:
    denom = side_pool + stake
    if denom <= 0:
        return 0.0
    return (total_pool + stake) * (1.0 - fee_bp / BP) / denom


def kelly_stake_scalar(q: float, side_pool: float, total_pool: float, fee_bp: float, bankroll: float, fraction: float) -> float:
    g = 1.0 - fee_bp / BP
    a = fraction * bankroll
    edge = q * g * total_pool - side_pool
    if edge <= 0:
        return 0.0
    a1 = g * total_pool - side_pool + a * (1.0 - q * g)
    disc = max(a1 * a1 - 4.0 * (1.0 - g) * a * edge, 0.0)
    denom = a1 + math.sqrt(disc)
    return 2.0 * a * edge / denom if denom > 0 else 0.0


def edge_cap_scalar(q: float, side_pool: float, total_pool: float, fee_bp: float, min_edge: float) -> float:
    g = 1.0 - fee_bp / BP
    k = 1.0 + min_edge
    if k <= q * g:
        return math.inf
    return (q * g * total_pool - k * side_pool) / (k - q * g)


def kelly_fixed_point(
    q: float, side_pool: float, total_pool: float, fee_bp: float, bankroll: float, fraction: float, iterations: int = 200
) -> float:
    """The same stake by damped fixed-point iteration ``b <- c W k(m(b))`` (tests cross-check the closed form with it)."""
    b = 0.0
    for _ in range(iterations):
        m = gross_multiple_scalar(side_pool, total_pool, fee_bp, b)
        k = (q * m - 1.0) / (m - 1.0) if m > 1.0 else 0.0
        b = 0.5 * b + 0.5 * max(fraction * bankroll * k, 0.0)
    return b
