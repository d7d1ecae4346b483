"""Signal-following strategies: ``follow`` (V2/V3 markets) and ``ai_follow`` / ``ai_fade`` (the AI dialect).

In the AI dialect the positions mean something else: Bull = "the on-chain AI is right", Bear = "the AI is wrong".
``ai_direction`` (+1 / -1 / 0) says where the on-chain AI price sits against the reference price, and the Allora signal
"agrees" when its direction (``p_up`` above or below 0.5) is the same.

- ``ai_follow``: agree -> Bull, disagree -> Bear (we back Allora whichever way that points in this market);
- ``ai_fade``: the mirror image, agree -> Bear, disagree -> Bull (a control: it bets that Allora is the one that is wrong).

Both take ``on_agree`` / ``on_disagree`` (``"bull"``, ``"bear"`` or ``"skip"``) to express other variants, e.g. only
backing the AI when Allora agrees (``on_disagree="skip"``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from strategies.base import (
    AI_DIRECTION_COL,
    BANKROLL_COL,
    BEAR,
    BULL,
    MIN_BET_COL,
    P_UP_COL,
    SIGNAL_AGE_COL,
    SKIP,
    Columns,
    Proposal,
    Strategy,
    StrategyError,
)

AiAction = Literal["bull", "bear", "skip"]
_ACTIONS: dict[str, int] = {"bull": BULL, "bear": BEAR, "skip": SKIP}


def signal_status(
    ctx: Columns, max_signal_age: float | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """``p_up``, the rows without a signal (NaN) and the rows whose signal is older than ``max_signal_age``."""
    p = ctx[P_UP_COL]
    no_signal = np.isnan(p)
    if max_signal_age is None or SIGNAL_AGE_COL not in ctx:
        stale = np.zeros(len(p), dtype=bool)
    else:
        stale = ~no_signal & (ctx[SIGNAL_AGE_COL] > max_signal_age)
    return p, no_signal, stale


def _check_common(name: str, threshold: float, stake_wei: int, max_signal_age: float | None) -> None:
    if not 0 <= threshold < 0.5:
        raise StrategyError(f"{name}: threshold must be in [0, 0.5), got {threshold}")
    if stake_wei <= 0:
        raise StrategyError(f"{name}: stake_wei must be > 0, got {stake_wei}")
    if max_signal_age is not None and max_signal_age <= 0:
        raise StrategyError(f"{name}: max_signal_age must be > 0, got {max_signal_age}")


FOLLOW_LABELS = ("bet: follow signal", "skip: no signal", "skip: stale signal", "skip: signal below threshold")


class FollowStrategy(Strategy):
    """Bet the Allora direction when ``|p_up - 0.5| >= threshold``, with a fixed stake."""

    name: ClassVar[str] = "follow"
    required_columns: ClassVar[tuple[str, ...]] = (P_UP_COL, BANKROLL_COL, MIN_BET_COL)

    def __init__(self, threshold: float = 0.05, stake_wei: int = 10**16, max_signal_age: float | None = None) -> None:
        _check_common(self.name, threshold, stake_wei, max_signal_age)
        self.threshold = float(threshold)
        self.stake_wei = int(stake_wei)
        self.max_signal_age = max_signal_age

    def params(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "stake_wei": self.stake_wei, "max_signal_age": self.max_signal_age}

    def propose(self, ctx: Columns) -> Proposal:
        p, no_signal, stale = signal_status(ctx, self.max_signal_age)
        conviction = np.abs(p - 0.5)
        strong = (conviction >= self.threshold) & (conviction > 0)  # p == 0.5 has no direction
        code = np.where(strong, 0, 3)
        code = np.where(stale, 2, code)
        code = np.where(no_signal, 1, code)
        betting = strong & ~stale & ~no_signal
        side = np.where(betting, np.where(p > 0.5, BULL, BEAR), SKIP).astype(np.int8)
        stake = np.full(len(p), float(self.stake_wei))
        return Proposal(side, stake, code.astype(np.int8), FOLLOW_LABELS)


AI_LABELS = (
    "bet: allora agrees with the AI",
    "bet: allora disagrees with the AI",
    "skip: no signal",
    "skip: stale signal",
    "skip: signal below threshold",
    "skip: no on-chain AI direction",
    "skip: by rule",
)


class AiSignalStrategy(Strategy):
    """AI dialect: compare the Allora direction with the on-chain AI direction and act per ``on_agree``/``on_disagree``."""

    name: ClassVar[str] = "ai_signal"
    required_columns: ClassVar[tuple[str, ...]] = (P_UP_COL, AI_DIRECTION_COL, BANKROLL_COL, MIN_BET_COL)
    default_agree: ClassVar[AiAction] = "bull"
    default_disagree: ClassVar[AiAction] = "bear"

    def __init__(
        self,
        threshold: float = 0.0,
        stake_wei: int = 10**16,
        on_agree: AiAction | None = None,
        on_disagree: AiAction | None = None,
        max_signal_age: float | None = None,
    ) -> None:
        _check_common(self.name, threshold, stake_wei, max_signal_age)
        agree = self.default_agree if on_agree is None else on_agree
        disagree = self.default_disagree if on_disagree is None else on_disagree
        for label, value in (("on_agree", agree), ("on_disagree", disagree)):
            if value not in _ACTIONS:
                raise StrategyError(f"{self.name}: {label} must be bull, bear or skip, got {value!r}")
        self.threshold = float(threshold)
        self.stake_wei = int(stake_wei)
        self.on_agree: AiAction = agree
        self.on_disagree: AiAction = disagree
        self.max_signal_age = max_signal_age

    def params(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "stake_wei": self.stake_wei,
            "on_agree": self.on_agree,
            "on_disagree": self.on_disagree,
            "max_signal_age": self.max_signal_age,
        }

    def propose(self, ctx: Columns) -> Proposal:
        p, no_signal, stale = signal_status(ctx, self.max_signal_age)
        ai_dir = np.sign(np.nan_to_num(ctx[AI_DIRECTION_COL], nan=0.0))
        conviction = np.abs(p - 0.5)
        strong = (conviction >= self.threshold) & (conviction > 0)
        allora_dir = np.where(p > 0.5, 1.0, -1.0)
        agree = allora_dir == ai_dir
        action = np.where(agree, _ACTIONS[self.on_agree], _ACTIONS[self.on_disagree])
        code = np.where(agree, 0, 1)
        code = np.where(action == SKIP, 6, code)
        code = np.where(ai_dir == 0, 5, code)
        code = np.where(strong, code, 4)
        code = np.where(stale, 3, code)
        code = np.where(no_signal, 2, code)
        betting = strong & ~stale & ~no_signal & (ai_dir != 0) & (action != SKIP)
        side = np.where(betting, action, SKIP).astype(np.int8)
        stake = np.full(len(p), float(self.stake_wei))
        return Proposal(side, stake, code.astype(np.int8), AI_LABELS)


class AiFollowStrategy(AiSignalStrategy):
    """AI dialect: bet bull when Allora agrees with the market's on-chain AI direction, bear when it disagrees."""

    name: ClassVar[str] = "ai_follow"
    default_agree: ClassVar[AiAction] = "bull"
    default_disagree: ClassVar[AiAction] = "bear"


class AiFadeStrategy(AiSignalStrategy):
    """AI dialect: bet bear when Allora agrees with the market's on-chain AI direction, bull when it disagrees."""

    name: ClassVar[str] = "ai_fade"
    default_agree: ClassVar[AiAction] = "bear"
    default_disagree: ClassVar[AiAction] = "bull"
