"""Betting strategies: one vectorised interface (``Strategy.decide``) for live, paper and backtest runs."""

from strategies.base import (
    BEAR,
    BULL,
    CONTEXT_COLUMNS,
    DECISION_COLUMNS,
    SKIP,
    Decision,
    Proposal,
    Strategy,
    StrategyError,
    make_context,
)
from strategies.baselines import (
    AlwaysBearStrategy,
    AlwaysBullStrategy,
    CoinFlipStrategy,
    ContrarianStrategy,
    CrowdStrategy,
)
from strategies.edge import EdgeStrategy
from strategies.registry import BUILTIN, build_strategy, load_strategy, strategy_class
from strategies.signals import AiFadeStrategy, AiFollowStrategy, FollowStrategy

__all__ = [
    "BEAR",
    "BUILTIN",
    "BULL",
    "CONTEXT_COLUMNS",
    "DECISION_COLUMNS",
    "SKIP",
    "AiFadeStrategy",
    "AiFollowStrategy",
    "AlwaysBearStrategy",
    "AlwaysBullStrategy",
    "CoinFlipStrategy",
    "ContrarianStrategy",
    "CrowdStrategy",
    "Decision",
    "EdgeStrategy",
    "FollowStrategy",
    "Proposal",
    "Strategy",
    "StrategyError",
    "build_strategy",
    "load_strategy",
    "make_context",
    "strategy_class",
]
