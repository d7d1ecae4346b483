"""follow, ai_follow / ai_fade, the baselines, the shared rules and the decide/decide_one interface."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.domain import Position
from strategies import (
    CONTEXT_COLUMNS,
    AiFadeStrategy,
    AiFollowStrategy,
    AlwaysBearStrategy,
    AlwaysBullStrategy,
    CoinFlipStrategy,
    ContrarianStrategy,
    CrowdStrategy,
    EdgeStrategy,
    FollowStrategy,
    StrategyError,
    make_context,
)

ETH = 10**18
BASE = {"fee_bp": 300, "bankroll_wei": ETH, "min_bet_wei": 10**15}


def ctx(**cols: object) -> pd.DataFrame:
    cols.setdefault("bull_pool_wei", 1e18)
    cols.setdefault("bear_pool_wei", 1e18)
    return make_context(fee_bp=300.0, bankroll_wei=1e18, min_bet_wei=1e15, **cols)  # type: ignore[arg-type]


def test_follow_bets_the_signal_direction_above_the_threshold() -> None:
    out = FollowStrategy(threshold=0.05, stake_wei=2 * 10**16).decide(ctx(p_up=[0.56, 0.44, 0.54, 0.5, math.nan]))
    assert out["side"].tolist() == [0, 1, -1, -1, -1]
    assert out["stake_wei"].tolist() == [2 * 10**16, 2 * 10**16, 0, 0, 0]
    assert out["reason"].astype(str).tolist()[2:] == [
        "skip: signal below threshold",
        "skip: signal below threshold",
        "skip: no signal",
    ]


@pytest.mark.parametrize(
    ("cls", "p", "ai", "side"),
    [
        (AiFollowStrategy, 0.7, 1, Position.BULL),  # both say up: back the AI
        (AiFollowStrategy, 0.3, -1, Position.BULL),  # both say down: back the AI
        (AiFollowStrategy, 0.7, -1, Position.BEAR),  # Allora disagrees: bet the AI is wrong
        (AiFollowStrategy, 0.3, 1, Position.BEAR),
        (AiFadeStrategy, 0.7, 1, Position.BEAR),  # the mirror image
        (AiFadeStrategy, 0.7, -1, Position.BULL),
        (AiFollowStrategy, 0.7, 0, None),  # no on-chain AI direction
        (AiFollowStrategy, math.nan, 1, None),
    ],
)
def test_ai_dialect_strategies(cls: type, p: float, ai: int, side: Position | None) -> None:
    d = cls().decide_one(p_up=p, ai_direction=ai, bull_pool_wei=ETH, bear_pool_wei=ETH, **BASE)
    assert d.side is side


def test_ai_follow_can_skip_on_disagreement() -> None:
    s = AiFollowStrategy(on_disagree="skip")
    d = s.decide_one(p_up=0.7, ai_direction=-1, bull_pool_wei=ETH, bear_pool_wei=ETH, **BASE)
    assert d.side is None and d.reason == "skip: by rule"
    with pytest.raises(StrategyError):
        AiFollowStrategy(on_agree="maybe")  # type: ignore[arg-type]


def test_baselines() -> None:
    frame = ctx(p_up=[math.nan] * 4, bull_pool_wei=[3e18, 1e18, 2e18, 0.0], bear_pool_wei=[1e18, 3e18, 2e18, 0.0])
    assert AlwaysBullStrategy().decide(frame)["side"].tolist() == [0, 0, 0, 0]
    assert AlwaysBearStrategy().decide(frame)["side"].tolist() == [1, 1, 1, 1]
    assert CrowdStrategy().decide(frame)["side"].tolist() == [0, 1, -1, -1]  # bigger pool; ties skip
    assert ContrarianStrategy().decide(frame)["side"].tolist() == [1, 0, -1, -1]  # smaller pool


def test_coin_flip_is_seeded_and_fair() -> None:
    frame = ctx(p_up=np.full(20_000, np.nan))
    a = CoinFlipStrategy(seed=3).decide(frame)["side"].to_numpy()
    b = CoinFlipStrategy(seed=3).decide(frame)["side"].to_numpy()
    c = CoinFlipStrategy(seed=4).decide(frame)["side"].to_numpy()
    assert (a == b).all() and not (a == c).all()
    assert abs(a.mean() - 0.5) < 0.02


def test_shared_rules_floor_cap_and_min_bet() -> None:
    frame = make_context(
        p_up=[0.9, 0.9, 0.9], bull_pool_wei=1e18, bear_pool_wei=1e18, fee_bp=300.0, bankroll_wei=[1e18, 5e15, 5e14], min_bet_wei=1e15
    )
    out = FollowStrategy(stake_wei=10**16).decide(frame)
    # capped at the bankroll, then below the minimum bet -> skip
    assert out["stake_wei"].tolist() == [10**16, 5 * 10**15, 0]
    assert out["side"].tolist() == [0, 0, -1]
    assert out["reason"].astype(str).iloc[2] == "skip: stake below min bet"


def test_output_frame_shape() -> None:
    frame = ctx(p_up=[0.6, 0.4])
    frame.index = pd.Index([10, 11])
    out = EdgeStrategy().decide(frame)
    assert list(out.columns) == ["side", "stake_wei", "reason"]
    assert out.index.tolist() == [10, 11]
    assert out["side"].dtype == np.int8 and out["stake_wei"].dtype == np.int64
    diag = EdgeStrategy().decide(frame, diagnostics=True)
    assert "ev" in diag.columns


def test_missing_columns_and_fields_are_named() -> None:
    with pytest.raises(StrategyError, match="p_up"):
        EdgeStrategy().decide(pd.DataFrame({"bull_pool_wei": [1.0]}))
    with pytest.raises(StrategyError, match="bull_pool_wei"):
        EdgeStrategy().decide_one(p_up=0.5, bear_pool_wei=1, **BASE)
    with pytest.raises(StrategyError, match="unknown decision field"):
        EdgeStrategy().decide_one(p_up=0.5, bull_pool=1, bear_pool_wei=1, **BASE)


def test_decide_one_matches_decide() -> None:
    rng = np.random.default_rng(5)
    rows = [
        {
            "p_up": float(rng.uniform()),
            "bull_pool_wei": int(rng.integers(0, 9 * ETH)),
            "bear_pool_wei": int(rng.integers(0, 9 * ETH)),
            **BASE,
        }
        for _ in range(200)
    ]
    columns: dict[str, Any] = {c: [float(r[c]) for r in rows] for c in rows[0]}
    frame = make_context(**columns)
    out = EdgeStrategy().decide(frame)
    for i, row in enumerate(rows):
        d = EdgeStrategy().decide_one(**row)
        assert (-1 if d.side is None else int(d.side)) == out["side"].iat[i]
        assert d.stake_wei == out["stake_wei"].iat[i]


def test_context_columns_are_documented_constants() -> None:
    assert CONTEXT_COLUMNS == (
        "epoch",
        "p_up",
        "predicted_return",
        "signal_age",
        "bull_pool_wei",
        "bear_pool_wei",
        "fee_bp",
        "seconds_to_lock",
        "bankroll_wei",
        "min_bet_wei",
        "ai_direction",
    )


def test_int64_pool_columns_are_accepted() -> None:
    f = ctx(p_up=[0.6])
    g = f.assign(bull_pool_wei=np.array([3 * ETH], dtype=np.int64), bear_pool_wei=np.array([7 * ETH], dtype=np.int64))
    h = f.assign(bull_pool_wei=[3e18], bear_pool_wei=[7e18])
    assert EdgeStrategy().decide(g).equals(EdgeStrategy().decide(h))
