"""load_strategy: built-ins by name, user classes from a .py file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import StrategyConfig
from strategies import BUILTIN, EdgeStrategy, StrategyError, load_strategy
from strategies.signals import AiFadeStrategy

USER_FILE = '''
import numpy as np
from strategies.base import BULL, Proposal, Strategy


class Always(Strategy):
    name = "always"

    def __init__(self, stake_wei: int = 10**16) -> None:
        self.stake_wei = stake_wei

    def propose(self, ctx):
        n = ctx.n
        return Proposal(np.full(n, BULL, dtype=np.int8), np.full(n, float(self.stake_wei)),
                        np.zeros(n, dtype=np.int8), ("bet: always",))


class NotAStrategy:
    pass
'''


def test_builtins_by_name_and_alias() -> None:
    assert set(BUILTIN) == {
        "follow", "edge", "ai_follow", "ai_fade", "always_bull", "always_bear", "coin_flip", "crowd", "contrarian"
    }
    s = load_strategy(StrategyConfig(name="edge", params={"min_edge": 0.05}))
    assert isinstance(s, EdgeStrategy) and s.min_edge == 0.05
    assert isinstance(load_strategy(StrategyConfig(name="ai-fade")), AiFadeStrategy)
    assert load_strategy(StrategyConfig(name="follow-the-crowd")).name == "crowd"


def test_unknown_name_and_bad_params() -> None:
    with pytest.raises(StrategyError, match="unknown strategy 'nope'"):
        load_strategy(StrategyConfig(name="nope"))
    with pytest.raises(StrategyError, match=r"bad parameters.*accepted: min_edge"):
        load_strategy(StrategyConfig(name="edge", params={"min_egde": 0.1}))
    with pytest.raises(StrategyError, match="kelly_fraction"):
        load_strategy(StrategyConfig(name="edge", params={"kelly_fraction": 2}))


def test_user_strategy_from_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(USER_FILE)
    s = load_strategy(StrategyConfig(file=str(path), class_name="Always", params={"stake_wei": 3 * 10**16}))
    d = s.decide_one(bull_pool_wei=1, bear_pool_wei=1, fee_bp=300, bankroll_wei=10**18, min_bet_wei=10**15)
    assert d.stake_wei == 3 * 10**16 and d.reason == "bet: always"
    # without class_name, the single Strategy subclass of the file is used
    assert load_strategy(StrategyConfig(file=str(path))).name == "always"


def test_user_strategy_errors(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(USER_FILE)
    with pytest.raises(StrategyError, match="not found"):
        load_strategy(StrategyConfig(file=str(tmp_path / "missing.py"), class_name="X"))
    with pytest.raises(StrategyError, match="no class named 'Missing'"):
        load_strategy(StrategyConfig(file=str(path), class_name="Missing"))
    with pytest.raises(StrategyError, match="not a subclass of strategies.base.Strategy"):
        load_strategy(StrategyConfig(file=str(path), class_name="NotAStrategy"))
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(StrategyError, match="failed to import: RuntimeError: boom"):
        load_strategy(StrategyConfig(file=str(broken), class_name="X"))
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(StrategyError, match="set strategy.class_name"):
        load_strategy(StrategyConfig(file=str(empty)))
    with pytest.raises(StrategyError, match="needs strategy.file"):
        load_strategy(StrategyConfig(class_name="Always"))
