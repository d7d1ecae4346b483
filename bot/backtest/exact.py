"""Exact integer wei arithmetic for vectorised settlement.

A winning stake ``b`` on a side whose pool was ``S`` (other side ``O``) is paid, exactly as the contract does
(``bot.payout.expected_payout_if_win``)::

    T' = S + O + b;  R = T' - floor(T' * fee_bp / 10_000);  B = S + b;  payout = floor(b * R / B)

``b * R`` needs ~120 bits, so plain int64 overflows. The fast path stays in NumPy and is still exact:

1. ``T'``, the treasury and ``R`` in uint64 (exact while ``T' < 2**64``; the treasury is split as
   ``(T' // 10_000) * fee + (T' % 10_000) * fee // 10_000`` so nothing overflows);
2. an estimate ``Q`` of ``b * R / B`` in 80-bit long double (64-bit mantissa: ``b``, ``R`` and ``B`` are exact and the
   relative error is below ``2**-63``, so ``|Q - b R / B| < 1`` while ``Q <= 2**62``); ``qe = trunc(Q)`` is then
   the true quotient ``q``, ``q - 1`` or ``q + 1``;
3. the remainder ``r = b R - qe B`` lies in ``[-B, 2B)``, so with ``B <= 2**62`` it fits int64 and equals its value
   mod ``2**64``, which wrapping uint64 multiplication gives exactly; ``q = qe + (r >= B) - (r < 0)``.

Rows outside those bounds (pools or payouts that do not fit, or a platform whose long double is plain float64) go
through Python integers with ``bot.payout.expected_payout_if_win`` — the reference formula itself. Pool arrays of
dtype ``object`` (amounts beyond int64, e.g. real BNB rounds) always take that path.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bot.payout import BP_DENOMINATOR, expected_payout_if_win

EXTENDED_PRECISION = np.finfo(np.longdouble).nmant >= 63
_U64 = np.uint64
_TWO63 = 2**63
_Q_LIMIT = float(2**62) * (1 - 1e-9)
_B_LIMIT = 2**62


def fits_int64(values: np.ndarray) -> bool:
    """True when an integer-valued array can be held as int64 without loss."""
    if values.dtype == np.int64:
        return True
    if values.dtype.kind in "iu":
        return bool(values.size == 0 or int(values.max()) < _TWO63 and int(values.min()) >= -_TWO63)
    return all(-_TWO63 <= int(v) < _TWO63 for v in values)


def as_wei_array(values: object) -> np.ndarray:
    """Integer wei values as int64 when they all fit, else as an object array of Python ints (exact either way).

    Accepts integer/object arrays and sequences of ints (never goes through float: NumPy would turn a list holding an
    int beyond uint64 into float64). Whole-number floats are accepted but are only exact below 2**53.
    """
    if isinstance(values, np.ndarray):
        if values.dtype.kind in "iu":
            if values.dtype == np.uint64 and values.size and int(values.max()) >= _TWO63:
                return np.array([int(v) for v in values.tolist()], dtype=object)
            return values.astype(np.int64, copy=False)
        if values.dtype.kind == "f" and values.size and not np.all(np.isfinite(values) & (values == np.floor(values))):
            raise ValueError("wei amounts must be whole numbers")
        items = values.tolist()
    elif isinstance(values, list | tuple):
        items = list(values)
    else:
        items = list(values)  # type: ignore[call-overload]
    ints = [int(v) for v in items]
    if all(-_TWO63 <= v < _TWO63 for v in ints):
        return np.array(ints, dtype=np.int64)
    out = np.empty(len(ints), dtype=object)
    out[:] = ints
    return out


CHUNK = 32_768  # rows per block: keeps the temporaries in the CPU cache


def payouts_if_win(
    stake: npt.NDArray[np.int64], side_pool: np.ndarray, other_pool: np.ndarray, fee_bp: int | np.ndarray
) -> np.ndarray:
    """Exact payout of each winning ``stake`` (int64 array, or object when a payout exceeds int64).

    ``stake`` must be positive; pools non-negative (int64, or object arrays of Python ints).
    """
    n = len(stake)
    fee_arr = np.asarray(fee_bp, dtype=np.int64)
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    if side_pool.dtype == object or other_pool.dtype == object or not EXTENDED_PRECISION:
        return python_payouts(stake, side_pool, other_pool, np.broadcast_to(fee_arr, (n,)), np.ones(n, dtype=bool))
    ok = np.empty(n, dtype=bool)
    stake_u = stake.astype(np.int64, copy=False).view(_U64)
    side_u = side_pool.astype(np.int64, copy=False).view(_U64)
    other_u = other_pool.astype(np.int64, copy=False).view(_U64)
    scalar_fee = fee_arr.ndim == 0
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        fee = _U64(int(fee_arr)) if scalar_fee else fee_arr[start:stop].view(_U64)
        out[start:stop], ok[start:stop] = payout_block(stake_u[start:stop], side_u[start:stop], other_u[start:stop], fee)
    if not ok.all():
        bad = ~ok
        slow = python_payouts(stake, side_pool, other_pool, np.broadcast_to(fee_arr, (n,)), bad)
        if slow.dtype == object:
            mixed = out.astype(object)
            mixed[bad] = slow[bad]
            return mixed
        out[bad] = slow[bad]
    return out


def payout_block(
    b: npt.NDArray[np.uint64], s: npt.NDArray[np.uint64], o: npt.NDArray[np.uint64], fee: np.uint64 | np.ndarray
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Payouts of one block and the mask of rows the fast path could do (the others must go to Python ints)."""
    bp = _U64(BP_DENOMINATOR)
    total = s + o
    total_b = total + b
    base = s + b
    whole = total_b // bp
    reward = total_b - (whole * fee + (total_b - whole * bp) * fee // bp)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # bounds: no wrap-around, B <= 2**62 and the payout <= 2**62 (checked on a float64 estimate with margin);
        # a negative int64 input viewed as uint64 is >= 2**63 and fails them too
        rough = b.astype(np.float64) * (reward.astype(np.float64) / base.astype(np.float64))
        ok = (total_b >= total) & (base <= _U64(_B_LIMIT)) & (s < _U64(_TWO63)) & (o < _U64(_TWO63))
        ok &= rough <= _Q_LIMIT
        # |Q - b R / B| < 1, so trunc(Q) is q-1, q or q+1 and the remainder lies in [-B, 2B) ⊂ int64 (B <= 2**62)
        q_est = (b.astype(np.longdouble) * reward.astype(np.longdouble) / base.astype(np.longdouble)).astype(np.int64)
        rem = (b * reward - q_est.view(_U64) * base).view(np.int64)  # exact: computed mod 2**64, known to fit
    q = q_est + (rem >= base.view(np.int64)) - (rem < 0)
    q *= ok
    return q, ok


def python_payouts(
    stake: np.ndarray, side_pool: np.ndarray, other_pool: np.ndarray, fee: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    values = [0] * len(stake)
    for i in np.flatnonzero(rows):
        values[i] = expected_payout_if_win(int(stake[i]), int(side_pool[i]), int(other_pool[i]), int(fee[i]))
    return as_wei_array(values)


def exact_sum(values: np.ndarray) -> int:
    """Exact sum of an integer array as a Python int (int64 sums split into 32-bit halves so nothing overflows)."""
    if values.dtype == object:
        return sum(int(v) for v in values)
    if values.size == 0:
        return 0
    v = values.astype(np.int64, copy=False)
    high = v >> 32  # arithmetic shift: floor division by 2**32, sign kept
    low = v & 0xFFFFFFFF
    if v.size >= 2**31:  # sums of 2**31 values of < 2**32 could reach 2**63
        return sum(exact_sum(chunk) for chunk in np.array_split(v, v.size // 2**30 + 1))
    return (int(high.sum()) << 32) + int(low.sum())


def to_float(values: np.ndarray) -> npt.NDArray[np.float64]:
    """Wei amounts as float64 (statistics only)."""
    if values.dtype == object:
        return np.array([float(v) for v in values], dtype=np.float64)
    return values.astype(np.float64)
