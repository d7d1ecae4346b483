"""Issue 17, part 5: pools calibrated to reality — the fit and its quality printed (whole file and per period), a
model far from the candles' era said so, the model fitted to the rounds the user gives, and decision-time pools from
the journal used by the backtest with the final-vs-decision gap measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.backtest.decision_pools import load_decision_pools, pool_gap, with_decision_pools
from bot.backtest.market import WON
from bot.backtest.rounds import load_rounds_file
from bot.backtest.runner import SHIPPED_ROUNDS, run_backtest
from bot.payout import expected_payout_if_win
from bot.store.db import make_engine, session_factory, session_scope
from bot.store.journal import Intent
from tests.backtest.test_contract_rounds import contract_records, write

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> object:
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *args, "--json"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_fit_pools_prints_the_fit_and_its_quality(tmp_path: Path) -> None:
    [fit] = cli("rounds", "fit-pools", "--rounds-file", str(SHIPPED_ROUNDS))  # type: ignore[misc]
    assert fit["rounds"] == 1000 and fit["quality"] in ("good", "fair", "poor")
    assert 20 < fit["median_total_ether"] < 30  # December 2021 BNB pools
    assert 0 < fit["ks_log_total"] < 0.15 and set(fit["model"]) >= {"log_total_mean", "up_alpha"}
    dated = write(tmp_path, contract_records(600))  # real timestamps: 600 rounds x 300 s span two days
    fits = cli("rounds", "fit-pools", "--rounds-file", str(dated), "--per", "W")
    assert len(fits) >= 2 and fits[0]["start"] is not None  # type: ignore[arg-type, index]


def test_a_model_from_another_era_is_flagged() -> None:
    r = run_backtest("edge", end="2025-05-02", baselines=())  # 2025 candles, Dec 2021 pool model
    warning = r.pools["warning"]
    assert warning.startswith("WARNING: the pool model was fitted to real rounds of 2021-12-01") and warning in r.notes


def test_pools_fitted_to_the_users_rounds(tmp_path: Path) -> None:
    recs = contract_records(1000)
    for rec in recs:  # a market a tenth the size (pools like 2023-2025's)
        for f in ("totalAmount", "bullAmount", "bearAmount", "rewardBaseCalAmount"):
            rec[f] = str(int(rec[f]) // 10)
        rec["bullAmount"] = str(int(rec["totalAmount"]) - int(rec["bearAmount"]))
        winner_bull = rec["closePrice"] > rec["lockPrice"]
        rec["rewardBaseCalAmount"] = rec["bullAmount"] if winner_bull else rec["bearAmount"] if rec["closePrice"] < rec["lockPrice"] else "0"
        total = int(rec["totalAmount"])
        rec["rewardAmount"] = "0" if rec["closePrice"] == rec["lockPrice"] else str(total - total * 300 // 10_000)
    small = write(tmp_path, recs)
    base = run_backtest("edge", end="2025-05-03", baselines=())
    fitted = run_backtest("edge", end="2025-05-03", baselines=(), pools_from=str(small))
    assert "warning" not in fitted.pools and fitted.pools["fit"]["quality"] in ("good", "fair")
    assert any(n.startswith("pool model fitted to") for n in fitted.notes)
    ratio = np.median(fitted.rounds["bull_wei"] + fitted.rounds["bear_wei"]) / np.median(
        base.rounds["bull_wei"] + base.rounds["bear_wei"])
    assert 0.07 < ratio < 0.14
    assert fitted.fingerprint != base.fingerprint


@pytest.fixture()
def journal(tmp_path: Path) -> tuple[Path, list[dict]]:
    recs = contract_records(200)
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    with session_scope(session_factory(engine)) as s:
        for rec in recs[::4]:  # the daemon decided on every 4th round, 5 s before the lock, before late money came
            bull, bear = int(rec["bullAmount"]) * 2 // 3, int(rec["bearAmount"]) // 2
            ctx = {"bull_pool_wei": bull, "bear_pool_wei": bear, "seconds_to_lock": 5.0, "p_up": 0.6}
            s.add(Intent(market="bnb", epoch=rec["epoch"], account="0x" + "11" * 20, mode="paper", position=0,
                         amount_wei=10**16, decision=json.dumps(ctx)))
    engine.dispose()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp_path / 'bot.db'}",
                                   "risk": {"kill_switch_file": str(tmp_path / "KILL")}}))
    return cfg, recs


def test_decision_time_pools_from_the_journal(tmp_path: Path, journal: tuple[Path, list[dict]]) -> None:
    cfg, recs = journal
    out = tmp_path / "dp.csv"
    summary = cli("-c", str(cfg), "rounds", "export", "--decision-pools", "--out", str(out))
    assert summary["written"] == 50  # type: ignore[index]
    rounds_file = write(tmp_path, recs)
    r = run_backtest("follow", params={"threshold": 0.0}, rounds_file=rounds_file, baselines=(),
                     decision_pools=str(out), inferences=_always(recs))
    assert r.pools_source.startswith("decision-time") and r.pools["gap"]["matched"] == 50
    ctx = r.run.context.set_index("epoch")
    dp = load_decision_pools(out).set_index("epoch")
    final = load_rounds_file(rounds_file).set_index("epoch")
    for epoch in final.index[:12]:
        seen = ctx.loc[epoch, "bull_pool_wei"]
        expected = dp.loc[epoch, "decision_bull_wei"] if epoch in dp.index else float(final.loc[epoch, "bull_wei"])
        assert seen == expected
    # settlement stays on the final pools, to the wei
    won = r.run.bets[r.run.bets["result"] == WON]
    for e, side, stake, payout in zip(won["epoch"], won["side"], won["stake_wei"], won["payout_wei"], strict=True):
        row = final.loc[int(e)]
        mine, other = (row["bull_wei"], row["bear_wei"]) if side == 0 else (row["bear_wei"], row["bull_wei"])
        assert int(payout) == expected_payout_if_win(int(stake), int(mine), int(other), 300)
    gap = pool_gap(with_decision_pools(load_rounds_file(rounds_file), load_decision_pools(out)))
    assert gap.matched == 50 and 1.5 < (gap.median_total_ratio or 0) < 2.1
    assert any("final pools were" in n for n in r.notes)


def _always(recs: list[dict]) -> object:
    import pandas as pd

    return pd.DataFrame({"timestamp": [r["lockTimestamp"] - 60 for r in recs], "p_up": 0.7})
