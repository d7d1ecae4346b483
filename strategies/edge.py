"""``edge``: bet the side with positive expected value after the fee and our own dilution, sized by fractional Kelly.

Per row: the EV of each side at the minimum bet picks the side (at most one side can have a positive EV: the two
break-even probabilities add up to more than 1); a row whose best EV is ``<= min_edge`` is skipped. The stake is the
dilution-consistent fractional Kelly stake (see ``strategies.kelly``), then capped by ``max_stake_wei``,
``bankroll_fraction * bankroll`` and by the stake at which dilution would push the EV down to ``min_edge``.
``stake_wei`` replaces Kelly by a flat stake (the same caps apply). The ``ev`` output column is the EV per unit staked at
the final stake (NaN on skips).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from bot.money import floor_to_quantum_scalar, stake_quantum
from strategies.base import (
    BANKROLL_COL,
    BEAR,
    BEAR_POOL_COL,
    BULL,
    BULL_POOL_COL,
    FEE_BP_COL,
    MIN_BET_COL,
    P_UP_COL,
    REASON_BELOW_MIN_BET,
    SKIP,
    Columns,
    Proposal,
    Strategy,
    StrategyError,
)
from strategies.kelly import BP
from strategies.signals import signal_status

LABELS = (
    "bet: kelly",
    "bet: fixed stake",
    "bet: capped at max stake",
    "bet: capped at bankroll fraction",
    "bet: capped where dilution meets min edge",
    "skip: no signal",
    "skip: stale signal",
    "skip: no edge",
)
KELLY, FIXED, CAP_MAX, CAP_FRACTION, CAP_EDGE, NO_SIGNAL, STALE, NO_EDGE = range(len(LABELS))


class EdgeStrategy(Strategy):
    name: ClassVar[str] = "edge"
    required_columns: ClassVar[tuple[str, ...]] = (
        P_UP_COL,
        BULL_POOL_COL,
        BEAR_POOL_COL,
        FEE_BP_COL,
        BANKROLL_COL,
        MIN_BET_COL,
    )

    def __init__(
        self,
        min_edge: float = 0.02,
        kelly_fraction: float = 0.25,
        max_stake_wei: int = 10**17,
        bankroll_fraction: float = 0.05,
        stake_wei: int | None = None,
        max_signal_age: float | None = None,
    ) -> None:
        if not min_edge >= 0:
            raise StrategyError(f"edge: min_edge must be >= 0, got {min_edge}")
        if not 0 < kelly_fraction <= 1:
            raise StrategyError(f"edge: kelly_fraction must be in (0, 1], got {kelly_fraction}")
        if max_stake_wei <= 0:
            raise StrategyError(f"edge: max_stake_wei must be > 0, got {max_stake_wei}")
        if not 0 < bankroll_fraction <= 1:
            raise StrategyError(f"edge: bankroll_fraction must be in (0, 1], got {bankroll_fraction}")
        if stake_wei is not None and stake_wei <= 0:
            raise StrategyError(f"edge: stake_wei must be > 0, got {stake_wei}")
        if max_signal_age is not None and max_signal_age <= 0:
            raise StrategyError(f"edge: max_signal_age must be > 0, got {max_signal_age}")
        self.min_edge = float(min_edge)
        self.kelly_fraction = float(kelly_fraction)
        self.max_stake_wei = int(max_stake_wei)
        self.bankroll_fraction = float(bankroll_fraction)
        self.stake_wei = None if stake_wei is None else int(stake_wei)
        self.max_signal_age = max_signal_age

    def params(self) -> dict[str, Any]:
        return {
            "min_edge": self.min_edge,
            "kelly_fraction": self.kelly_fraction,
            "max_stake_wei": self.max_stake_wei,
            "bankroll_fraction": self.bankroll_fraction,
            "stake_wei": self.stake_wei,
            "max_signal_age": self.max_signal_age,
        }

    def propose(self, ctx: Columns) -> Proposal:
        # Operation count matters here (1M rounds in ~20 ms): constant columns come in as floats, selects are
        # arithmetic, and rows that end up skipped may carry garbage stakes (``decide`` zeroes them).
        p, no_signal, stale = signal_status(ctx, self.max_signal_age)
        bull = ctx[BULL_POOL_COL]
        bear = ctx[BEAR_POOL_COL]
        min_bet = ctx.value(MIN_BET_COL)
        bankroll = ctx.value(BANKROLL_COL)
        g = 1.0 - ctx.value(FEE_BP_COL) / BP
        k = 1.0 + self.min_edge
        total = bull + bear
        not_p = 1.0 - p

        with np.errstate(divide="ignore", invalid="ignore"):
            # The side with the better EV at the minimum bet: p/(bull+m) >= (1-p)/(bear+m).
            pick_bull = p * (bear + min_bet) >= not_p * (bull + min_bet)
            w = pick_bull.astype(np.float64)
            not_w = 1.0 - w
            q = w * p + not_w * not_p  # exact select for finite inputs
            pool = w * bull + not_w * bear
            qg = q * g
            qg_total = qg * total
            # EV at the minimum bet > min_edge  <=>  q g (T + m) > (1 + min_edge)(S + m)   (False on NaN)
            has_edge = qg_total + qg * min_bet > k * (pool + min_bet)

            if self.stake_wei is None:
                scale = self.kelly_fraction * bankroll
                edge = qg_total - pool
                a1 = g * total - pool + scale * (1.0 - qg)
                disc = a1 * a1 - (4.0 * (1.0 - g) * scale) * edge
                want = (2.0 * scale) * edge / (a1 + np.sqrt(np.fmax(disc, 0.0)))
                base_code = KELLY
            else:
                want = np.full(ctx.n, float(self.stake_wei))
                base_code = FIXED
            cap_edge = (qg_total - k * pool) / (k - qg)
            cap_fraction = self.bankroll_fraction * bankroll
            cap_fixed = np.fmin(cap_fraction, float(self.max_stake_wei))
            stake = np.fmin(np.fmin(want, cap_fixed), cap_edge)

            cap_code = np.where(np.asarray(cap_fraction < self.max_stake_wei), CAP_FRACTION, CAP_MAX).astype(np.int8)
            code = _select(stake >= cap_fixed, cap_code, CAP_EDGE)
            code = _select(stake >= want, base_code, code)
            skip_code = NO_EDGE + stale.view(np.int8) * np.int8(STALE - NO_EDGE)
            skip_code += no_signal.view(np.int8) * np.int8(NO_SIGNAL - NO_EDGE)  # exclusive with stale
            betting = has_edge & ~stale
            code = _select(betting, code, skip_code)
            side = (BEAR - pick_bull.view(np.int8) + 1) * betting.view(np.int8) - 1  # BULL/BEAR if betting, else SKIP

            extra = {"ev": qg * (total + stake) / (pool + stake) - 1.0} if ctx.diagnostics else {}
        return Proposal(side, stake, code, LABELS, extra)


def _select(mask: np.ndarray, yes: int | np.ndarray, no: int | np.ndarray) -> npt.NDArray[np.int8]:
    """``np.where`` for small int8 codes without its branches: ``no + mask * (yes - no)``."""
    no_arr = np.asarray(no, dtype=np.int8)
    diff = np.asarray(yes, dtype=np.int8) - no_arr
    return np.asarray(no_arr + np.asarray(mask, dtype=np.bool_).view(np.int8) * diff, dtype=np.int8)


def edge_decide_scalar(
    strategy: EdgeStrategy,
    p: float,
    bull: float,
    bear: float,
    fee_bp: float,
    bankroll: float,
    min_bet: float,
    signal_age: float = math.nan,
) -> tuple[int, int, str]:
    """The scalar twin of ``EdgeStrategy.decide`` for one row: ``(side, stake_wei, reason)``, side ``SKIP`` = -1.

    Same float operations in the same order as the vectorised path (so the results are identical); used by the
    per-round reference loop and to cross-check the vectorised code.
    """
    if math.isnan(p):
        return SKIP, 0, LABELS[NO_SIGNAL]
    if strategy.max_signal_age is not None and signal_age > strategy.max_signal_age:
        return SKIP, 0, LABELS[STALE]
    g = 1.0 - fee_bp / BP
    k = 1.0 + strategy.min_edge
    total = bull + bear
    not_p = 1.0 - p
    pick_bull = p * (bear + min_bet) >= not_p * (bull + min_bet)
    q = p if pick_bull else not_p
    pool = bull if pick_bull else bear
    qg = q * g
    qg_total = qg * total
    if not qg_total + qg * min_bet > k * (pool + min_bet):
        return SKIP, 0, LABELS[NO_EDGE]
    if strategy.stake_wei is None:
        scale = strategy.kelly_fraction * bankroll
        edge = qg_total - pool
        a1 = g * total - pool + scale * (1.0 - qg)
        disc = a1 * a1 - (4.0 * (1.0 - g) * scale) * edge
        want = (2.0 * scale) * edge / (a1 + math.sqrt(max(disc, 0.0)))
        code = KELLY
    else:
        want = float(strategy.stake_wei)
        code = FIXED
    cap_edge = (qg_total - k * pool) / (k - qg) if k != qg else math.inf
    cap_fraction = strategy.bankroll_fraction * bankroll
    cap_fixed = min(cap_fraction, float(strategy.max_stake_wei))
    raw = min(min(want, cap_fixed), cap_edge)
    if raw < want:
        code = (CAP_FRACTION if cap_fraction < strategy.max_stake_wei else CAP_MAX) if raw >= cap_fixed else CAP_EDGE
    capped = min(raw, bankroll)
    if math.isnan(capped):
        return SKIP, 0, REASON_BELOW_MIN_BET
    stake = floor_to_quantum_scalar(capped, stake_quantum(int(min_bet)) if math.isfinite(min_bet) and min_bet >= 1 else 1)
    if stake < min_bet:
        return SKIP, 0, REASON_BELOW_MIN_BET
    return (BULL if pick_bull else BEAR), int(stake), LABELS[code]
