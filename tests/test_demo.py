"""The main job end to end (what ``make run`` runs), shortened: bets are placed, settled and claimed, the reconciled
PnL equals the account's balance change, and the private key appears nowhere in the output or the files written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from devkit.cli import main

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


def test_demo_end_to_end_and_no_secret_leaks(tmp_path, capsys, caplog):
    workdir = tmp_path / "demo"
    code = main(["demo", "--rounds", "5", "--interval", "7", "--workdir", str(workdir), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, (out[out.find("demo report"):], err[-3000:])
    report = json.loads(out[out.index("{"):])
    assert report["bets"]["intents"] >= 2
    assert report["bets"]["by_state"].get("landed", 0) >= 2
    assert report["settled"]["bets"] >= 2 and report["settled"]["won"] + report["settled"]["lost"] >= 2
    assert report["pnl"]["equal"] and report["pnl"]["difference_wei"] == 0
    if report["settled"]["won"]:
        assert report["settled"]["claimed"] >= 1 and report["settled"]["claim_txs"] >= 1
    assert report["truth_service"]["loss_service"]["status"] == 200
    # every round the daemon decided on is closed when the report says so, each with the reason of its decision
    assert report["all_closed"] and not report["open_rounds"]
    assert report["rounds"] and all(r["outcome"] in ("up", "down", "tie") for r in report["rounds"])
    for row in report["rounds"]:
        assert row["why"], row
        if row["tx"] == "landed":
            assert row["result"] in ("won", "lost", "house-won", "refund"), row
    assert report["crowd"]["simulated"] and "not realistic" in report["crowd"]["warning"]

    from devkit.demo.world import BOT_ACCOUNT_INDEX
    from devkit.devnet.anvil import dev_private_keys

    key = dev_private_keys(BOT_ACCOUNT_INDEX + 1)[BOT_ACCOUNT_INDEX].removeprefix("0x").lower()
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for text in (out, err, logs):
        assert key not in text.lower()
    for file in Path(workdir).rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert key.encode() not in data.lower() and bytes.fromhex(key) not in data, file


def test_demo_on_the_v21_dialect_as_a_person_reads_it(tmp_path, capsys):
    """``demo --dialect v2.1 --plain``: our V2.1-layout market (no known events): bets land and the PnL reconciled
    from contract reads equals the balance change. What a person reads: one row per round, printed once it is closed
    (none left open), with the reason for each decision; the report in coins (no wei counts), every round closed, the
    simulated crowd named in the table and the report."""
    code = main(["demo", "--rounds", "5", "--interval", "7", "--workdir", str(tmp_path / "demo"), "--plain",
                 "--dialect", "v2.1"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, (out[out.find("demo report"):], err[-3000:])
    table, report = out.split("demo report", 1)
    rows = [line.split() for line in table.splitlines() if re.match(r"\s+\d+ ", line)]
    assert len(rows) >= 3 and len({r[0] for r in rows}) == len(rows)  # each round once
    assert [int(r[0]) for r in rows] == sorted(int(r[0]) for r in rows)
    for r in rows:
        assert "open" not in r[:10], r
    assert sum("landed" in r for r in rows) >= 2
    assert "simulated" in table and "simulated" in report and "not realistic" in report
    assert "every round closed and settled" in report and "PnL == balance change  yes" in report
    assert re.search(r"reconciled PnL\s+[+-]?\d+\.\d+ ETH", report) and re.search(r"staked\s+\d+(\.\d+)? ETH", report)
    assert not re.search(r"(?<![\d.])\d{10,}", report)  # amounts in coins, not counts of wei
