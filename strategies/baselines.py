"""Baselines a signal must beat: always-bull, always-bear, coin-flip, follow-the-crowd and contrarian, all with a fixed
stake.

They ignore the signal, so a backtest can run them on exactly the same rounds as the strategy under test.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from strategies.base import (
    BANKROLL_COL,
    BEAR,
    BEAR_POOL_COL,
    BULL,
    BULL_POOL_COL,
    MIN_BET_COL,
    SKIP,
    Columns,
    Proposal,
    Strategy,
    StrategyError,
)


class _FixedStake(Strategy):
    def __init__(self, stake_wei: int = 10**16) -> None:
        if stake_wei <= 0:
            raise StrategyError(f"{self.name}: stake_wei must be > 0, got {stake_wei}")
        self.stake_wei = int(stake_wei)

    def params(self) -> dict[str, Any]:
        return {"stake_wei": self.stake_wei}

    def _stakes(self, n: int) -> np.ndarray:
        return np.full(n, float(self.stake_wei))


class AlwaysBullStrategy(_FixedStake):
    """Bet bull every round with a fixed stake (a baseline)."""

    name: ClassVar[str] = "always_bull"
    required_columns: ClassVar[tuple[str, ...]] = (BANKROLL_COL, MIN_BET_COL)

    def propose(self, ctx: Columns) -> Proposal:
        n = ctx.n
        return Proposal(np.full(n, BULL, dtype=np.int8), self._stakes(n), np.zeros(n, dtype=np.int8), ("bet: always bull",))


class AlwaysBearStrategy(_FixedStake):
    """Bet bear every round with a fixed stake (a baseline)."""

    name: ClassVar[str] = "always_bear"
    required_columns: ClassVar[tuple[str, ...]] = (BANKROLL_COL, MIN_BET_COL)

    def propose(self, ctx: Columns) -> Proposal:
        n = ctx.n
        return Proposal(np.full(n, BEAR, dtype=np.int8), self._stakes(n), np.zeros(n, dtype=np.int8), ("bet: always bear",))


class CoinFlipStrategy(_FixedStake):
    """Bull or bear with equal probability from a seeded ``numpy.random.Generator`` (reproducible runs)."""

    name: ClassVar[str] = "coin_flip"
    required_columns: ClassVar[tuple[str, ...]] = (BANKROLL_COL, MIN_BET_COL)

    def __init__(self, stake_wei: int = 10**16, seed: int = 0) -> None:
        super().__init__(stake_wei)
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)

    def params(self) -> dict[str, Any]:
        return {"stake_wei": self.stake_wei, "seed": self.seed}

    def propose(self, ctx: Columns) -> Proposal:
        n = ctx.n
        side = self._rng.integers(0, 2, size=n, dtype=np.int8)
        return Proposal(side, self._stakes(n), side.astype(np.int8), ("bet: coin flip bull", "bet: coin flip bear"))


_POOL_LABELS = ("bet: bull pool", "bet: bear pool", "skip: pools tied")


class _PoolSide(_FixedStake):
    required_columns: ClassVar[tuple[str, ...]] = (BULL_POOL_COL, BEAR_POOL_COL, BANKROLL_COL, MIN_BET_COL)
    bigger: ClassVar[bool] = True

    def propose(self, ctx: Columns) -> Proposal:
        bull = ctx[BULL_POOL_COL]
        bear = ctx[BEAR_POOL_COL]
        bull_bigger = bull > bear
        pick_bull = bull_bigger if self.bigger else bear > bull
        tied = bull == bear
        side = np.where(tied, SKIP, np.where(pick_bull, BULL, BEAR)).astype(np.int8)
        code = np.where(tied, 2, np.where(pick_bull, 0, 1)).astype(np.int8)
        return Proposal(side, self._stakes(ctx.n), code, _POOL_LABELS)


class CrowdStrategy(_PoolSide):
    """Follow the crowd: bet the bigger pool (skip on a tie)."""

    name: ClassVar[str] = "crowd"
    bigger: ClassVar[bool] = True


class ContrarianStrategy(_PoolSide):
    """Bet the smaller pool, i.e. the better payout multiple (skip on a tie)."""

    name: ClassVar[str] = "contrarian"
    bigger: ClassVar[bool] = False
