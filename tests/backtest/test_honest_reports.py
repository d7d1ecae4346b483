"""Issue 17, parts 1-2 and 5: a report says when a run was ruined, scores every baseline on the same rounds and stop
rule, includes always-bear, contrarian and the coin flip's expectation over many seeds, and labels its pools and the
provenance of its signal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from bot.backtest.engine import EngineConfig, PreparedRounds, run_engine
from bot.backtest.metrics import compute_metrics
from bot.backtest.report import html_report, metrics_table, to_json
from bot.backtest.runner import SHIPPED_ROUNDS, BacktestError, run_backtest
from strategies import CoinFlipStrategy

ROOT = Path(__file__).resolve().parents[2]
# `follow` with 0.2 of a 1.0 bankroll per bet is ruined within the first two days of the shipped slice
RUINOUS = {"params": {"threshold": 0.0, "stake_wei": 2 * 10**17}, "end": "2025-05-03", "coin_flip_seeds": 8}


@pytest.fixture(scope="module")
def ruined() -> object:
    return run_backtest("follow", params=RUINOUS["params"], end=RUINOUS["end"], coin_flip_seeds=RUINOUS["coin_flip_seeds"])


def test_ruin_is_in_the_table_the_notes_the_json_and_the_html(ruined: object) -> None:
    r = ruined
    epoch = r.run.ruined_epoch  # type: ignore[attr-defined]
    assert epoch is not None
    data = to_json(r)  # type: ignore[arg-type]
    assert data["ruined"] is True and data["ruined_at_epoch"] == epoch
    assert data["metrics"]["ruined"] is True and data["metrics"]["rounds_played"] < data["metrics"]["rounds"]
    console = Console(record=True, width=300)
    console.print(metrics_table(r))  # type: ignore[arg-type]
    assert f"RUINED at epoch {epoch}" in console.export_text()
    assert r.notes[0].startswith(f"RUINED: follow could not cover its next bet at epoch {epoch}")  # type: ignore[attr-defined]
    assert f"RUINED: follow could not cover its next bet at epoch {epoch}" in html_report(r, {})  # type: ignore[arg-type]


def test_a_run_that_survives_says_so() -> None:
    r = run_backtest("edge", end="2025-05-02", coin_flip_seeds=2)
    data = to_json(r)
    assert data["ruined"] is False and data["ruined_at_epoch"] is None
    assert not any(n.startswith("RUINED: edge") for n in r.notes)


def test_baselines_use_the_strategys_rounds_and_stop_rule(ruined: object) -> None:
    r = ruined
    assert r.run.config.stop_on_ruin  # type: ignore[attr-defined]
    for name, run in r.baseline_runs.items():  # type: ignore[attr-defined]
        assert run.config == r.run.config, name  # type: ignore[attr-defined]
        assert run.n_rounds == r.run.n_rounds and (run.round_lock_ts == r.run.round_lock_ts).all()  # type: ignore[attr-defined]
    # with 0.2 per bet from 1.0, losing baselines go bust too, and stop there like the strategy did
    busted = [n for n, m in r.baselines.items() if m.get("ruined")]  # type: ignore[attr-defined]
    assert busted
    for name in busted:
        run = r.baseline_runs[name]  # type: ignore[attr-defined]
        assert int(run.bets["epoch"].max()) < run.ruined_epoch and run.final_bankroll_wei >= 0
    # the same stop rule both ways: without a ruin stop nobody is marked ruined
    free = run_backtest("follow", params=RUINOUS["params"], end=RUINOUS["end"], coin_flip_seeds=2, stop_on_ruin=False)
    assert not free.run.config.stop_on_ruin and all(not run.config.stop_on_ruin for run in free.baseline_runs.values())
    assert not any(m.get("ruined") for m in free.baselines.values())


def test_default_baselines_include_always_bear_contrarian_and_the_coin_flip_expectation(ruined: object) -> None:
    r = ruined
    assert list(r.baselines) == ["always_bull", "always_bear", "crowd", "contrarian", "coin_flip"]  # type: ignore[attr-defined]
    bear = r.baseline_runs["always_bear"]  # type: ignore[attr-defined]
    assert (bear.bets["side"] == 1).all() and len(bear.bets) > 0
    coin = r.baselines["coin_flip"]  # type: ignore[attr-defined]
    assert coin["seeds"] == RUINOUS["coin_flip_seeds"] and coin["expectation"] is True
    assert coin["hit_rate_pvalue"] is None  # a mean of p-values is no p-value
    # the expectation is the mean over seeds seed..seed+k-1, each an ordinary coin-flip run on the same rounds
    prep = PreparedRounds.from_frame(r.rounds)  # type: ignore[attr-defined]
    stake = int(r.baseline_runs["always_bull"].bets["stake_wei"].iloc[0])  # type: ignore[attr-defined]
    pnls = [
        compute_metrics(run_engine(prep, r.signals, CoinFlipStrategy(stake, seed=k), r.run.config))["pnl_wei"]  # type: ignore[attr-defined]
        for k in range(RUINOUS["coin_flip_seeds"])
    ]
    assert coin["pnl_wei"] == pytest.approx(float(np.mean(pnls)))
    assert coin["spread"]["pnl_wei"]["p05"] == pytest.approx(float(np.percentile(pnls, 5)))
    assert coin["spread"]["pnl_wei"]["p95"] == pytest.approx(float(np.percentile(pnls, 95)))
    console = Console(record=True, width=300)
    console.print(metrics_table(r))  # type: ignore[arg-type]
    assert f"coin_flip (mean of {RUINOUS['coin_flip_seeds']} seeds)" in console.export_text()


def test_pools_are_labelled() -> None:
    model = run_backtest("edge", end="2025-05-02", baselines=())
    assert model.pools_source.startswith("model")
    real = run_backtest("follow", rounds_file=SHIPPED_ROUNDS, baselines=())
    assert real.pools_source.startswith("final")
    assert to_json(real)["pools_source"] == real.pools_source


def _export(tmp_path: Path, provenance: str, *, late_ms: int = 0) -> Path:
    base = 1746057600
    rows = []
    for i in range(600):
        ts = base + 300 * i
        rows.append({
            "topic_id": 14, "topic_name": "btc-5m", "kind": "log-return", "timestamp": ts,
            "fetched_at_ms": ts * 1000 + 1000 + late_ms, "available_at_ms": ts * 1000 + 1000 + late_ms,
            "accepted": "true", "value": "0.001", "predicted_return": 0.001, "p_up": 0.7, "source": "api",
            "signer": "", "provenance": provenance,
        })
    path = tmp_path / f"{provenance}.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("provenance", "label", "is_allora"),
    [("allora", "allora (logged live)", True), ("emulated", "emulated (not Allora)", False)],
)
def test_signal_provenance_of_an_exported_log(tmp_path: Path, provenance: str, label: str, is_allora: bool) -> None:
    r = run_backtest("follow", inferences=_export(tmp_path, provenance), end="2025-05-02", baselines=())
    assert r.signal_provenance == label and r.signal_is_allora is is_allora
    assert to_json(r)["signal_provenance"] == label


def test_a_hand_made_file_is_a_user_file_even_when_it_is_perfect(tmp_path: Path) -> None:
    rounds = run_backtest("follow", end="2025-05-02", baselines=()).rounds
    up = (rounds["close_price"] > rounds["lock_price"]).to_numpy()
    perfect = pd.DataFrame({"timestamp": rounds["lock_ts"] - 60, "p_up": np.where(up, 0.99, 0.01)})
    path = tmp_path / "future.csv"
    perfect.to_csv(path, index=False)
    r = run_backtest("follow", inferences=path, end="2025-05-02", baselines=())
    assert r.signal_provenance == "user file (unverified)" and not r.signal_is_allora
    assert to_json(r)["signal_is_allora"] is False


def test_offline_signals_are_labelled() -> None:
    r = run_backtest("edge", end="2025-05-02", baselines=())
    assert r.signal_provenance == "offline:momentum (not Allora)" and not r.signal_is_allora


@pytest.mark.parametrize("lead", ["-1", "-300", "nan"])
def test_negative_lead_is_refused_as_one_line(lead: str) -> None:
    with pytest.raises(BacktestError, match="lead_seconds must be >= 0"):
        run_backtest("edge", end="2025-05-02", lead_seconds=float(lead))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "backtest", "--set", f"lead_seconds={lead}", "--set", "end=2025-05-02"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2 and "lead_seconds must be >= 0" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(ValueError, match="lead_seconds"):
        EngineConfig(lead_seconds=-1.0)


def test_ruin_through_the_cli_json() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "backtest", "--no-risk", "--strategy", "follow", "--param", "threshold=0.0",
         "--param", f"stake_wei={2 * 10**17}", "--set", "end=2025-05-03", "--set", "coin_flip_seeds=2", "--json"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ruined"] is True and isinstance(data["ruined_at_epoch"], int)
    assert data["baselines"]["contrarian"]["rounds"] == data["metrics"]["rounds"]
