"""The one rule that turns a float-derived amount into wei.

Money is an ``int`` of wei end to end. A few amounts are *computed* in floating point — a Kelly stake, a pool drawn from
the fitted pool model — and the last bits of such a float depend on the libraries (numpy's SIMD ``exp``, a BLAS, the
order of a reduction). Flooring it straight to whole wei would carry that noise into the wei, so the same commit could
give different stakes, PnL and fingerprints on two machines (it did: 15 wei apart on 1,643 bets).

The rule, applied once, where the float becomes money:

    wei = (int(x) // q) * q     with q a power of ten ("quantum"); int(x) floors the float exactly, the rest is integers

so a library's noise of a few ulps in ``x`` changes the result only when ``x`` lies within those few ulps of a
multiple of ``q`` — a chance of about ``ulp(x) / q``, ~1e-11 for a 0.1-coin stake on a 1e-6-coin grid, against ~1
(every stake) when flooring to whole wei.

Quanta:
- **stakes**: one thousandth of the decade of the market's minimum bet (``stake_quantum``): PancakeSwap's BNB markets
  take 0.001 BNB at least (1e15 wei), so stakes are whole micro-BNB (1e12 wei). It scales with the coin's decimals
  without needing them, and a market with a 1-wei minimum bet keeps whole-wei stakes.
- **model pools**: one millionth of the decade of the model's median pool (``pool_quantum``).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

# Powers of ten that float64 holds exactly (10**22 is the largest), built from exact ints.
_POW10_F = np.array([float(10**k) for k in range(23)], dtype=np.float64)
_MAX_INT64_F = float(2**63 - 1024)  # the largest float64 below 2**63
STAKE_QUANTUM_DIGITS = 3  # stakes on a grid of 1/1000 of the minimum bet's decade
POOL_QUANTUM_DIGITS = 6  # model pools on a grid of 1/1,000,000 of the median pool's decade


def decade(value: int) -> int:
    """``floor(log10(value))`` for a positive int, exactly (``-1`` for values below 1)."""
    return len(str(int(value))) - 1 if value >= 1 else -1


def stake_quantum(min_bet_wei: int) -> int:
    """The stake grid for a market whose minimum bet is ``min_bet_wei``: ``10**max(decade(min_bet) - 3, 0)`` wei."""
    return 10 ** max(decade(min_bet_wei) - STAKE_QUANTUM_DIGITS, 0)


def stake_quantum_array(min_bet_wei: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """``stake_quantum`` over a float64 (or int) column of minimum bets; NaN, inf or < 1 gives 1.

    A constant column (the usual case: one market) costs one lookup, not one per row.
    """
    arr = np.asarray(min_bet_wei, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.size and (arr.strides[0] == 0 or bool((arr == arr[0]).all())):
        first = float(arr[0])
        q = stake_quantum(int(first)) if math.isfinite(first) and first >= 1 else 1
        return np.full(arr.shape, q, dtype=np.int64)
    finite = np.isfinite(arr) & (arr >= 1)
    dec = np.searchsorted(_POW10_F, np.where(finite, arr, 1.0), side="right") - 1
    exp = np.clip(dec - STAKE_QUANTUM_DIGITS, 0, 22)
    return np.asarray(np.where(finite, np.power(np.int64(10), exp.astype(np.int64)), 1), dtype=np.int64)


def floor_to_quantum(x: npt.ArrayLike, quantum: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The rule: ``floor(x / q) * q`` as int64 wei, exactly (non-finite or sub-wei ``x`` gives 0).

    ``x`` is first floored to whole wei (exact for a float below 2**63) and then divided in integers, so nothing but
    ``x`` itself decides the result. ``quantum`` is an int or an int64 array of the same length. Amounts are held in
    int64: an ``x`` at or above 2**63 wei (~9.2 coins of 18 decimals) is clipped to the largest float below it.
    """
    xs = np.asarray(x, dtype=np.float64)
    q_int = np.asarray(quantum, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        whole = np.where(np.isfinite(xs) & (xs >= 1.0), np.minimum(xs, _MAX_INT64_F), 0.0).astype(np.int64)
    return np.asarray((whole // q_int) * q_int, dtype=np.int64)


def floor_to_quantum_scalar(x: float, quantum: int) -> int:
    """The scalar twin of ``floor_to_quantum`` (same clip, same integer division)."""
    if not (math.isfinite(x) and x >= 1.0):
        return 0
    return (int(min(x, _MAX_INT64_F)) // quantum) * quantum


def pool_quantum(median_total_wei: float) -> int:
    """The grid of model pools: ``10**max(decade(median) - 6, 0)`` wei (1e13 wei for a ~25 BNB median)."""
    if not math.isfinite(median_total_wei) or median_total_wei < 1:
        return 1
    return 10 ** max(decade(int(median_total_wei)) - POOL_QUANTUM_DIGITS, 0)
