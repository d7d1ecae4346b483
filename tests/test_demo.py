"""The main job end to end (what ``make run`` runs), shortened: bets are placed, settled and claimed, the reconciled
PnL equals the account's balance change, and the private key appears nowhere in the output or the files written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devkit.cli import main

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


def test_demo_end_to_end_and_no_secret_leaks(tmp_path, capsys, caplog):
    workdir = tmp_path / "demo"
    code = main(["demo", "--rounds", "5", "--interval", "7", "--workdir", str(workdir), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    report = json.loads(out[out.index("{"):])
    assert report["bets"]["intents"] >= 2
    assert report["bets"]["by_state"].get("landed", 0) >= 2
    assert report["settled"]["bets"] >= 2 and report["settled"]["won"] + report["settled"]["lost"] >= 2
    assert report["pnl"]["equal"] and report["pnl"]["difference_wei"] == 0
    if report["settled"]["won"]:
        assert report["settled"]["claimed"] >= 1 and report["settled"]["claim_txs"] >= 1
    assert report["truth_service"]["loss_service"]["status"] == 200

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


def test_demo_on_the_v21_dialect(tmp_path, capsys):
    """``demo --dialect v2.1``: our V2.1-layout market (no known events): bets land and the PnL reconciled from contract
    reads equals the balance change."""
    code = main(["demo", "--rounds", "5", "--interval", "7", "--workdir", str(tmp_path / "demo"), "--json",
                 "--dialect", "v2.1"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    report = json.loads(out[out.index("{"):])
    assert report["bets"]["by_state"].get("landed", 0) >= 2 and report["settled"]["bets"] >= 2
    assert report["pnl"]["equal"] and report["pnl"]["difference_wei"] == 0
