"""run_backtest on the shipped data, its fingerprints, the report outputs and parameter sweeps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from bot.backtest.engine import EngineConfig, bets_fingerprint, run_engine
from bot.backtest.report import metrics_table, to_json
from bot.backtest.rounds import load_rounds_file
from bot.backtest.runner import SHIPPED_ROUNDS, BacktestError, run_backtest
from bot.backtest.sweep import grid_points, run_sweep
from bot.config import StrategyConfig
from strategies import EdgeStrategy

# sha256 over "epoch,side,stake,payout" of every settled bet. If an intended change moves these, re-pin them in the
# same commit and say why; an unintended move means the engine, the strategy or the data path changed behaviour.
# Re-pinned once when float-derived wei got one rule (bot.money: stakes on a micro-coin grid, model pools on a
# 1e13-wei grid) so they no longer depend on the numpy/pandas build (tests/backtest/test_wei_determinism.py).
FINGERPRINT_SHIPPED_WEEK = "ba1e2e5dcbadb61ef85646074c0ddc48d00e547c7075daefa55f38a34670dbbc"
PNL_SHIPPED_WEEK = 1766916473692893110
FINGERPRINT_REAL_ROUNDS = "e7d2879d3b56ca5373fc202799f76d4d742c1f999159c3cbe86f30b0a1fc656d"


@pytest.fixture(scope="module")
def week() -> object:
    return run_backtest("edge", end="2025-05-08")


def test_fingerprint_of_a_fixed_backtest_on_the_shipped_slice(week: object) -> None:
    assert week.fingerprint == FINGERPRINT_SHIPPED_WEEK  # type: ignore[attr-defined]
    assert (week.metrics["bets"], week.metrics["pnl_wei"]) == (1643, PNL_SHIPPED_WEEK)  # type: ignore[attr-defined]


def test_fingerprint_of_the_engine_on_real_rounds() -> None:
    real = load_rounds_file(SHIPPED_ROUNDS)  # pools beyond int64: the exact Python-int settlement path
    signals = pd.DataFrame(
        {"p_up": np.where(np.arange(len(real)) % 3 == 0, 0.45, 0.56), "predicted_return": np.nan, "signal_age": 30.0}
    )
    res = run_engine(real, signals, EdgeStrategy(), EngineConfig(gas_per_bet_wei=10**13, gas_per_claim_wei=10**13))
    assert bets_fingerprint(res.bets) == FINGERPRINT_REAL_ROUNDS
    assert (len(res.bets), res.final_bankroll_wei) == (824, 3342722795082057380)


def test_default_run_is_labelled_and_compared_with_baselines(week: object) -> None:
    r = week
    assert r.signal_source == "offline:momentum" and not r.signal_is_allora  # type: ignore[attr-defined]
    assert set(r.baselines) == {"always_bull", "always_bear", "coin_flip", "crowd", "contrarian"}  # type: ignore[attr-defined]
    assert any("NOT Allora" in n for n in r.notes)  # type: ignore[attr-defined]
    assert any("final pools" in n for n in r.notes)  # type: ignore[attr-defined]
    data = to_json(r)  # type: ignore[arg-type]
    text = json.dumps(data)  # plain JSON types only
    assert data["metrics"]["pnl_wei"] == r.metrics["pnl_wei"] and "NaN" not in text  # type: ignore[attr-defined]
    assert data["fingerprint"] == FINGERPRINT_SHIPPED_WEEK and data["signal_is_allora"] is False
    console = Console(record=True, width=140)
    console.print(metrics_table(r))  # type: ignore[arg-type]
    out = console.export_text()
    assert "offline:momentum (not Allora)" in out and "always_bull" in out and "p-value" in out


def test_report_files(week: object, tmp_path: Path) -> None:
    paths = week.save_report(tmp_path)  # type: ignore[attr-defined]
    assert {p.name for p in paths.values()} == {"report.json", "report.html", "equity.png", "hit_rate.png"}
    for key in ("equity", "hit_rate"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") == 2 and "http://" not in page and "https://" not in page
    assert "(not Allora)" in page and "<table>" in page
    assert json.loads(paths["json"].read_text())["strategy"] == "edge"


def test_real_rounds_file_and_other_strategies() -> None:
    r = run_backtest("follow", params={"threshold": 0.1}, rounds_file=SHIPPED_ROUNDS, baselines=("contrarian",))
    assert r.metrics["rounds"] == 1000 and r.data_source == "rounds:pcs-v2-bnb-2021-12-slice.ndjson"
    assert any("no timestamps" in n for n in r.notes)
    ai = run_backtest("ai_follow", dialect="ai", end="2025-05-03", baselines=())
    assert ai.metrics["bets"] > 0 and any("AI prices" in n for n in ai.notes)


def test_user_strategy_and_inference_log(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        "import numpy as np\nfrom strategies.base import BEAR, Proposal, Strategy\n\n"
        "class Bear(Strategy):\n    name = 'bear'\n"
        "    def propose(self, ctx):\n"
        "        n = ctx.n\n"
        "        return Proposal(np.full(n, BEAR, dtype=np.int8), np.full(n, 1e16), np.zeros(n, dtype=np.int8), ('bet: bear',))\n"
    )
    log = pd.DataFrame({"timestamp": [1746057600 + 300 * i for i in range(3000)], "p_up": 0.7})
    r = run_backtest(StrategyConfig(file=str(path), class_name="Bear"), inferences=log, end="2025-05-02", baselines=())
    assert r.strategy == "bear" and r.metrics["bear_bets"] == r.metrics["bets"] > 0
    assert r.signal_source == "log:dataframe" and not r.signal_is_allora  # nothing says who made it
    assert r.signal_provenance == "user file (unverified)"


def test_bad_settings() -> None:
    with pytest.raises(BacktestError, match="unknown backtest setting"):
        run_backtest(fee=3)
    with pytest.raises(BacktestError, match="no rounds"):
        run_backtest(start="2030-01-01")


def test_sweep_parallel_equals_serial_with_out_of_sample_split(week: object) -> None:
    grid = {"min_edge": [0.0, 0.05], "kelly_fraction": [0.1, 0.25]}
    rounds, signals = week.rounds, week.signals  # type: ignore[attr-defined]
    cfg = week.run.config  # type: ignore[attr-defined]
    serial = run_sweep("edge", grid, rounds, signals, config=cfg, max_workers=1, train_fraction=0.6)
    parallel = run_sweep("edge", grid, rounds, signals, config=cfg, max_workers=2, train_fraction=0.6)
    pd.testing.assert_frame_equal(serial, parallel)
    assert len(serial) == 4 and serial.attrs["train_rounds"] == round(len(rounds) * 0.6)
    assert {"train_roi", "test_roi", "train_sharpe_per_bet", "test_bets"} <= set(serial.columns)
    assert serial["train_sharpe_per_bet"].is_monotonic_decreasing
    assert grid_points({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    with pytest.raises(ValueError):
        grid_points({"a": "xy"})
