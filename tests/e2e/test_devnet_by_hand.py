"""A user's session by hand, every command a process: ``devnet up`` -> ``bet --live`` -> the round settles ->
``history`` -> ``claim --live --yes`` -> ``pnl`` -> ``devnet down``; exit codes, amounts in coins, and nothing left
running afterwards.

Deterministic money: the devnet runs without the simulated crowd, and the test bets on the side the keeper's price
series makes win (``devkit.demo.world.winning_side``), alone in the round, so the claim pays back exactly
0.01 x 0.97 = 0.0097 ETH (the 3 % fee), and the PnL shown must equal the account's balance change to the wei.
Non-default ports and a temporary working directory keep parallel runs apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import pytest
from web3 import Web3

from bot.coins import format_units
from devkit.alloraservice import DEFAULT_PRICES, PriceSeries
from devkit.demo.world import BOT_ACCOUNT_INDEX, winning_side
from devkit.devnet.anvil import dev_private_keys, free_port
from devkit.devnet.deploy import load_abi

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

MAIN = str(Path(__file__).resolve().parents[2] / "main.py")
INTERVAL = 20  # a CLI process starts in ~1 s (more on a loaded 2-core machine): the bet must land before lock
STAKE = 10**16  # 0.01 ETH
PAYOUT = STAKE * 9700 // 10000  # alone on the winning side: everything back but the 3 % fee


class Session:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir, self.env = workdir, env

    def run(self, *args: str, ok: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, MAIN, *args], cwd=self.workdir, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if ok:
            assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        return done


def _values(tree: Any) -> list[Any]:
    if isinstance(tree, dict):
        return [v for x in tree.values() for v in _values(x)]
    if isinstance(tree, list):
        return [v for x in tree for v in _values(x)]
    return [tree]


def _has_amount(tree: Any, wei: int) -> bool:
    """The JSON holds this amount, as a wei integer or as exact coin text/number."""
    coin = Decimal(format_units(wei, 18))
    for v in _values(tree):
        if isinstance(v, bool):
            continue
        if isinstance(v, int) and v == wei:
            return True
        if isinstance(v, (str, float)):
            try:
                if Decimal(str(v).split()[0]) == coin:
                    return True
            except (ArithmeticError, IndexError, ValueError):
                continue
    return False


def _pick_round(w3: Web3, market: Any, series: PriceSeries, base_bar: int) -> tuple[int, str]:
    """The current round when it has time left to bet and a winner (not a tie), else the next such round."""
    deadline = time.monotonic() + INTERVAL * 6
    while time.monotonic() < deadline:
        epoch = int(market.functions.currentEpoch().call())
        lock = int(market.functions.rounds(epoch).call()[2]) if epoch else 0
        now = int(w3.eth.get_block("latest")["timestamp"])
        side = winning_side(series, base_bar, epoch) if epoch else None
        if epoch and side and lock - now >= INTERVAL - 6:
            return epoch, side
        time.sleep(0.5)
    raise AssertionError("no bettable round with a winner came")


def _wait_closed(w3: Web3, market: Any, epoch: int) -> None:
    deadline = time.monotonic() + INTERVAL * 4
    while time.monotonic() < deadline:
        if int(market.functions.currentEpoch().call()) >= epoch + 2 and market.functions.rounds(epoch).call()[-1]:
            return
        time.sleep(0.5)
    raise AssertionError(f"round {epoch} did not close")


def test_devnet_by_hand(tmp_path: Path) -> None:
    anvil_port, allora_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLORA_BOT")}
    env["COLUMNS"] = "200"
    s = Session(tmp_path, env)
    up = s.run("devnet", "up", "--anvil-port", str(anvil_port), "--allora-port", str(allora_port),
               "--interval", str(INTERVAL), "--no-crowd", "--json")
    state = json.loads(up.stdout)
    supervisor = psutil.Process(int(state["pid"]))
    children = supervisor.children(recursive=True)
    try:
        again = s.run("devnet", "up", "--anvil-port", str(anvil_port), "--allora-port", str(allora_port), ok=False)
        assert again.returncode == 6 and "already up" in again.stderr and len(again.stderr.strip().splitlines()) == 1
        status = json.loads(s.run("devnet", "status", "--json").stdout)
        assert status["up"] and status["phase"] == "running" and status["anvil_url"].endswith(f":{anvil_port}")

        env["ALLORA_BOT_CONFIG"] = state["config"]
        env["ALLORA_BOT_PRIVATE_KEY"] = dev_private_keys(BOT_ACCOUNT_INDEX + 1)[BOT_ACCOUNT_INDEX]
        w3 = Web3(Web3.HTTPProvider(state["anvil_url"]))
        market = w3.eth.contract(address=Web3.to_checksum_address(state["market"]),
                                 abi=load_abi("PancakePredictionV2"))
        account = Web3.to_checksum_address(state["bot_account"])
        series = PriceSeries.load_csv(DEFAULT_PRICES)
        balance_before = int(w3.eth.get_balance(account))

        for _ in range(3):  # a round may lock between our look and the bet: then the next one
            epoch, side = _pick_round(w3, market, series, int(state["base_bar"]))
            bet = s.run("bet", side, "--market", "btc-devnet", "--amount", "0.01", "--epoch", str(epoch),
                        "--live", "--yes", ok=False)
            if bet.returncode == 0:
                break
            assert bet.returncode == 6, bet.stderr[-2000:]  # too late for that round: refused, nothing spent
        assert bet.returncode == 0
        assert "0.01" in bet.stdout and str(STAKE) not in bet.stdout, bet.stdout  # the stake in coins

        _wait_closed(w3, market, epoch)
        history = s.run("history")
        line = next((ln for ln in history.stdout.splitlines() if str(epoch) in ln and "0.01" in ln), None)
        assert line is not None, history.stdout
        assert str(STAKE) not in history.stdout

        claim = s.run("claim", "--live", "--yes")
        assert format_units(PAYOUT, 18) in claim.stdout, claim.stdout  # 0.0097 back, in coins
        assert int(market.functions.ledger(epoch, account).call()[2])  # claimed on chain
        change = int(w3.eth.get_balance(account)) - balance_before

        pnl = s.run("pnl")
        assert format_units(change, 18) in pnl.stdout, (format_units(change, 18), pnl.stdout)
        pnl_json = json.loads(s.run("pnl", "--json").stdout)
        assert _has_amount(pnl_json, change), pnl_json  # to the wei: our bet's PnL is the whole balance change
    finally:
        down = s.run("devnet", "down", ok=False)
    assert down.returncode == 0 and "down" in down.stdout
    gone, alive = psutil.wait_procs([supervisor, *children], timeout=30)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    assert not (tmp_path / "data" / "devnet" / "state.json").exists()
    assert "not up" in s.run("devnet", "status").stdout
