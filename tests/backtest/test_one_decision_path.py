"""Issue 17, part 4: one decision path. The backtest reads the strategy and risk limits from the daemon's config (CLI
flags override), the risk limits run in backtests through the same ``bot.engine.decision.apply_limits`` the daemon
calls, and the daemon's one-round decision equals the backtest's on the same context."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from bot.backtest.engine import EngineConfig
from bot.backtest.risk import backtest_limits
from bot.backtest.runner import run_backtest
from bot.config import RiskConfig
from bot.domain import MarketParams
from bot.engine.decision import RiskState, decide, signal_fields
from strategies import EdgeStrategy, FollowStrategy

ROOT = Path(__file__).resolve().parents[2]
END = "2025-05-04"


def config(tmp_path: Path, strategy: dict[str, Any], risk: dict[str, Any]) -> Path:
    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "strategy": strategy,
        "risk": {"kill_switch_file": str(tmp_path / "KILL"), **risk},
        "execution": {"lead_seconds": 4},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def cli(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *args, "--json"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_backtest_uses_the_configs_strategy_params(tmp_path: Path) -> None:
    cfg = config(tmp_path, {"name": "edge", "params": {"min_edge": 0.0, "kelly_fraction": 0.1}}, {})
    data = cli("-c", str(cfg), "backtest", "--no-risk", "--set", f"end={END}", "--set", "coin_flip_seeds=1")
    assert data["strategy_params"]["min_edge"] == 0.0 and data["strategy_params"]["kelly_fraction"] == 0.1
    same = run_backtest(EdgeStrategy(min_edge=0.0, kelly_fraction=0.1), end=END, baselines=())
    assert data["fingerprint"] == same.fingerprint
    # a --param overrides one config value and keeps the others
    data = cli("-c", str(cfg), "backtest", "--no-risk", "--param", "min_edge=0.05", "--set", f"end={END}",
               "--set", "coin_flip_seeds=1")
    assert data["strategy_params"]["min_edge"] == 0.05 and data["strategy_params"]["kelly_fraction"] == 0.1


def test_config_risk_limits_run_in_the_backtest(tmp_path: Path) -> None:
    cap = 3 * 10**17
    cfg = config(
        tmp_path,
        {"name": "follow", "params": {"threshold": 0.0, "stake_wei": 5 * 10**16}},
        {"max_stake_per_bet_wei": 10**17, "max_stake_per_day_wei": cap, "max_daily_loss_wei": 10**18,
         "pause_after_losses": 0, "bankroll_fraction": 0.5},
    )
    data = cli("-c", str(cfg), "backtest", "--set", f"end={END}", "--set", "coin_flip_seeds=1")
    assert data["settings"]["risk"]["max_stake_per_day_wei"] == cap
    assert data["decision_reasons"].get("risk max-stake-per-day", 0) > 0
    # to the wei: what the backtest staked per UTC day of decision stays within the daily cap
    r = run_backtest(FollowStrategy(threshold=0.0, stake_wei=5 * 10**16), end=END, baselines=(),
                     risk=RiskConfig(max_stake_per_bet_wei=10**17, max_stake_per_day_wei=cap, max_daily_loss_wei=10**18,
                                     pause_after_losses=0, bankroll_fraction=0.5))
    assert r.fingerprint == data["fingerprint"]
    lock = r.rounds["lock_ts"].to_numpy()[r.run.bets["round_index"].to_numpy()]
    day = (lock - 4) // 86_400
    per_day = {d: int(r.run.bets["stake_wei"].to_numpy()[day == d].sum()) for d in np.unique(day)}
    assert max(per_day.values()) == cap and len(per_day) >= 3
    free = run_backtest(FollowStrategy(threshold=0.0, stake_wei=5 * 10**16), end=END, baselines=())
    assert free.metrics["bets"] > r.metrics["bets"]


def test_pause_after_losses_stops_betting_as_the_daemon_would() -> None:
    risk = RiskConfig(pause_after_losses=3, max_stake_per_day_wei=10**20, max_daily_loss_wei=10**20,
                      bankroll_fraction=1.0)
    r = run_backtest(FollowStrategy(threshold=0.0, stake_wei=10**16), end=END, baselines=(), risk=risk)
    results = r.run.bets["result"].tolist()
    streak = 0
    for res in results:  # never more than pause_after_losses (+ the bet decided before the 3rd loss settled)
        streak = 0 if res == 0 else streak + (res == 1)
        assert streak <= 4
    assert "risk pause-after-losses" in set(r.run.decisions["reason"].astype(str))


def test_the_daemons_one_round_decision_is_the_backtests(tmp_path: Path) -> None:
    risk = RiskConfig(max_stake_per_bet_wei=2 * 10**16, max_stake_per_day_wei=10**18)
    strategy = EdgeStrategy(min_edge=0.0, kelly_fraction=0.5)
    r = run_backtest(strategy, end="2025-05-02", baselines=(), risk=risk)
    ctx, dec = r.run.context, r.run.decisions
    params = MarketParams(interval_seconds=300, buffer_seconds=0, min_bet_amount=10**15, treasury_fee_bp=300,
                          paused=False)
    limits = backtest_limits(risk)
    checked = 0
    for i in range(len(ctx)):
        row = ctx.iloc[i]
        fields = {k: (int(row[k]) if k in ("epoch", "bull_pool_wei", "bear_pool_wei", "bankroll_wei", "min_bet_wei",
                                            "fee_bp") else float(row[k])) for k in ctx.columns}
        if math.isnan(fields["p_up"]):
            continue
        total = fields["bull_pool_wei"] + fields["bear_pool_wei"]
        # the daemon's path, with a journal that has staked nothing today (the first bets of the run)
        verdict = decide(strategy, limits, fields, market="backtest", total_pool_wei=total, params=params,
                         state=lambda: RiskState())
        side = -1 if verdict.side is None else int(verdict.side)
        assert (side, verdict.stake_wei) == (int(dec["side"].iloc[i]), int(dec["stake_wei"].iloc[i])), i
        if verdict.reason.startswith("risk "):
            assert str(dec["reason"].iloc[i]) == verdict.reason.split(":", 1)[0]
        checked += 1
        if checked == 25:
            break
    assert checked == 25 and (dec["reason"].astype(str) == "risk max-stake-per-bet").any()


def test_signal_fields_is_the_one_conversion() -> None:
    assert all(math.isnan(v) for v in signal_fields(None).values())

    class Sig:
        p_up, predicted_return, age_seconds = 0.6, 0.001, 12.0

    assert signal_fields(Sig()) == {"p_up": 0.6, "predicted_return": 0.001, "signal_age": 12.0}


def test_engine_config_without_risk_is_unchanged() -> None:
    assert EngineConfig().risk is None


@pytest.mark.parametrize("flag", ["--no-risk", "--risk"])
def test_risk_flag_is_accepted(tmp_path: Path, flag: str) -> None:
    cfg = config(tmp_path, {"name": "edge", "params": {}}, {})
    data = cli("-c", str(cfg), "backtest", flag, "--set", "end=2025-05-02", "--set", "coin_flip_seeds=1")
    assert ("risk" in data["settings"] and data["settings"]["risk"] is not None) is (flag == "--risk")


def test_a_log_of_returns_gets_the_live_conversion() -> None:
    import pandas as pd

    from bot.allora.normalise import prob_above_zero
    from bot.backtest.inferences import load_inferences

    returns = [0.0012, -0.0004, 0.0, float("nan"), 0.01]
    frame = load_inferences(pd.DataFrame({"timestamp": range(1, 6), "log_return": returns}), volatility=0.0015)
    for r, p in zip(returns, frame["p_up"], strict=True):
        assert (math.isnan(r) and math.isnan(p)) or p == prob_above_zero(r, 0.0015)
