"""Issue 17, part 3: real rounds in the contract's field names load with real timestamps and exact wei, rounds never
executed are refunds, inconsistent files are refused naming the bad epochs, and values beyond int64 stay exact or
are an error — never a silent wrap.

The rounds are the shipped real PancakeSwap V2 rounds (``bot/data``), written out in the field names
``rounds(epoch)`` returns, with the contract's own reward bookkeeping (V2 ``_calculateRewards``) and a 300 s clock.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.backtest.engine import EngineConfig, run_engine
from bot.backtest.market import REFUND, WON
from bot.backtest.rounds import RoundsError, load_pcs_rounds, load_rounds_file
from bot.backtest.runner import SHIPPED_ROUNDS, BacktestError, run_backtest
from bot.payout import expected_payout_if_win
from strategies import AlwaysBearStrategy, AlwaysBullStrategy

ROOT = Path(__file__).resolve().parents[2]
FEE = 300
T0 = 1_639_000_000


def contract_records(n: int = 300) -> list[dict[str, Any]]:
    real = load_pcs_rounds(SHIPPED_ROUNDS).head(n)
    out = []
    for i, r in enumerate(real.itertuples(index=False)):
        bull, bear, lock, close = int(r.bull_wei), int(r.bear_wei), int(r.lock_price), int(r.close_price)
        total = bull + bear
        winner = "bull" if close > lock else "bear" if close < lock else "draw"
        base = {"bull": bull, "bear": bear, "draw": 0}[winner]
        reward = 0 if winner == "draw" else total - total * FEE // 10_000
        start = T0 + 300 * i
        out.append({
            "epoch": int(r.epoch), "startTimestamp": start, "lockTimestamp": start + 300, "closeTimestamp": start + 600,
            "lockPrice": lock, "closePrice": close, "lockOracleId": str(10 * i), "closeOracleId": str(10 * i + 1),
            "totalAmount": str(total), "bullAmount": str(bull), "bearAmount": str(bear),
            "rewardBaseCalAmount": str(base), "rewardAmount": str(reward), "oracleCalled": True,
        })
    return out


def write(tmp_path: Path, records: list[dict[str, Any]], name: str = "rounds.ndjson") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_contract_field_names_load_with_real_timestamps(tmp_path: Path) -> None:
    recs = contract_records()
    frame = load_rounds_file(write(tmp_path, recs))
    assert frame.attrs["timestamps"] == "real" and frame.attrs["source"] == "contract:rounds.ndjson"
    assert frame["lock_ts"].tolist() == sorted(r["lockTimestamp"] for r in recs)  # not epoch x 300 from 1970
    by_epoch = {r["epoch"]: r for r in recs}
    for e, bull in zip(frame["epoch"].tolist(), frame["bull_wei"].tolist(), strict=True):
        assert int(bull) == int(by_epoch[e]["bullAmount"])
    r = run_backtest("follow", rounds_file=write(tmp_path, recs), baselines=())
    assert not any("no timestamps" in n for n in r.notes) and r.metrics["rounds"] == len(recs)
    # CSV with the same header works too
    import csv

    path = tmp_path / "rounds.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(recs[0]))
        w.writeheader()
        w.writerows(recs)
    assert load_rounds_file(path)["epoch"].tolist() == frame["epoch"].tolist()


def test_oracle_not_called_is_a_refund_not_a_loss_or_a_draw(tmp_path: Path) -> None:
    recs = contract_records(40)
    # round 5 never executed: the contract stores no close price (0) and no reward
    recs[5].update(oracleCalled=False, closePrice=0, rewardBaseCalAmount="0", rewardAmount="0")
    # round 6 never executed although its close price equals the lock price (would read as a house draw)
    recs[6].update(oracleCalled=False, closePrice=recs[6]["lockPrice"], rewardBaseCalAmount="0", rewardAmount="0")
    frame = load_rounds_file(write(tmp_path, recs))
    cfg = EngineConfig(gas_per_bet_wei=0, gas_per_claim_wei=0)
    for strategy in (AlwaysBullStrategy(10**16), AlwaysBearStrategy(10**16)):
        bets = run_engine(frame, None, strategy, cfg).bets.set_index("epoch")
        for i in (5, 6):
            bet = bets.loc[recs[i]["epoch"]]
            assert bet["result"] == REFUND and bet["payout_wei"] == bet["stake_wei"] == 10**16 and bet["pnl_wei"] == 0
    r = run_backtest("follow", rounds_file=write(tmp_path, recs), baselines=())
    assert any("2 round(s) never executed" in n for n in r.notes)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.update(totalAmount=str(int(r["totalAmount"]) + 1)), "bullAmount + bearAmount != totalAmount"),
        (lambda r: r.update(closePrice=r["lockPrice"]), "prices say draw but rewardBaseCalAmount names a winner"),
        (lambda r: r.update(rewardAmount=str(int(r["totalAmount"]) - int(r["totalAmount"]) * 250 // 10_000)),
         "the file implies fee_bp [250]"),
        (lambda r: r.update(bullAmount=float(r["bullAmount"])), "floats are not exact wei"),
        (lambda r: r.update(rewardBaseCalAmount="0", rewardAmount="0", oracleCalled="maybe"), "not a boolean"),
    ],
)
def test_inconsistent_rounds_are_refused_naming_the_epoch(tmp_path: Path, mutate: Any, message: str) -> None:
    recs = contract_records(60)
    target = next(r for r in recs[10:] if r["closePrice"] > r["lockPrice"])  # a round bull won
    mutate(target)
    with pytest.raises(RoundsError, match=str(target["epoch"])) as info:
        load_rounds_file(write(tmp_path, recs))
    assert message in str(info.value)


def test_a_naive_precision_loss_is_caught_through_the_cli(tmp_path: Path) -> None:
    recs = contract_records(120)
    for r in recs:  # prices rounded to whole dollars: small moves become "draws" the house would have taken
        r["lockPrice"] = r["lockPrice"] // 10**8 * 10**8
        r["closePrice"] = r["closePrice"] // 10**8 * 10**8
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "backtest", "--rounds-file", str(write(tmp_path, recs))],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "prices say draw but rewardBaseCalAmount names a winner" in proc.stderr
    assert "epoch" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_pcs_result_string_contradicting_the_prices_is_refused(tmp_path: Path) -> None:
    lines = SHIPPED_ROUNDS.read_text().splitlines()[:50]
    doc = json.loads(lines[3])
    doc["resultString"] = {"bull": "bear", "bear": "bull", "draw": "bull"}[doc["resultString"]]
    lines[3] = json.dumps(doc)
    path = tmp_path / "pcs.ndjson"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RoundsError, match=f"resultString contradicts the prices .* epoch {doc['epoch']}"):
        load_rounds_file(path)


def test_pools_beyond_int64_settle_exactly(tmp_path: Path) -> None:
    recs = contract_records(30)
    for r in recs:  # a market ~100x the real one: pools past 2**63 wei
        for f in ("totalAmount", "bullAmount", "bearAmount", "rewardBaseCalAmount", "rewardAmount"):
            r[f] = str(int(r[f]) * 1000)
        total = int(r["totalAmount"])
        if int(r["rewardAmount"]):
            r["rewardAmount"] = str(total - total * FEE // 10_000)
    assert max(int(r["totalAmount"]) for r in recs) > 2**63
    frame = load_rounds_file(write(tmp_path, recs))
    assert frame["bull_wei"].dtype == object  # exact Python ints
    res = run_engine(frame, None, AlwaysBullStrategy(10**18), EngineConfig(bankroll_wei=10**18 * 9))
    won = res.bets[res.bets["result"] == WON]
    assert len(won)
    by_epoch = {r["epoch"]: r for r in recs}
    for e, stake, payout in zip(won["epoch"], won["stake_wei"], won["payout_wei"], strict=True):
        rec = by_epoch[int(e)]
        assert int(payout) == expected_payout_if_win(int(stake), int(rec["bullAmount"]), int(rec["bearAmount"]), FEE)


@pytest.mark.parametrize("setting", ["bankroll_wei", "gas_per_bet_wei", "baseline_stake_wei"])
def test_wei_settings_beyond_int64_are_an_error(setting: str) -> None:
    with pytest.raises(BacktestError, match="beyond the engine's int64 range"):
        run_backtest("edge", end="2025-05-02", **{setting: 2**63})
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "backtest", "--set", f"{setting}={2**64}", "--set", "end=2025-05-02"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2 and "int64" in proc.stderr and "Traceback" not in proc.stderr


def test_shipped_real_rounds_still_load() -> None:
    frame = load_rounds_file(SHIPPED_ROUNDS)
    assert len(frame) == 1000 and frame.attrs["timestamps"] == "synthetic"
    assert np.all(frame["oracle_called"].to_numpy())


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("close_price", "0", "executed (oracle_called) without a lock or close price"),
        ("close_ts", None, "close_ts not after lock_ts"),
        ("bull_wei", "-5", "negative pool"),
        ("lock_ts", str(2**70), "does not fit in 64 bits"),
    ],
)
def test_our_export_is_validated_naming_the_epoch(tmp_path: Path, column: str, value: str | None, message: str) -> None:
    import csv

    from bot.backtest.rounds import write_rounds_export

    frame = load_rounds_file(write(tmp_path, contract_records(30)))
    path = write_rounds_export(frame, tmp_path / "export.csv")
    rows = list(csv.DictReader(path.open()))
    rows[7][column] = rows[7]["lock_ts"] if value is None else value
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(RoundsError, match=re.escape(message)) as info:
        load_rounds_file(path)
    if "64 bits" not in message:
        assert rows[7]["epoch"] in str(info.value)
