"""`history` and `pnl` count the gas of our bet that was mined after lock and reverted (it has no settlement, but the
account paid for it): before, both were off by exactly that gas."""

from __future__ import annotations

import json

import pytest
import yaml

from bot.domain import Position
from bot.engine.executor import BetRequest
from bot.store.journal import IntentState
from devkit.cli import main  # the CLI main.py runs: the product commands and the devkit's
from tests.reconcile.helpers import Scenario, make_sessions

pytestmark = pytest.mark.anvil


def test_history_and_pnl_include_a_reverted_bets_gas(chain, deployments, tmp_path, capsys):
    sc = Scenario.create(chain, deployments["v2"], make_sessions(tmp_path), [chain.private_keys[7]])
    [bot] = sc.bots
    sc.kickoff()
    epoch = sc.epoch()
    rnd = sc.market.round(epoch)
    chain.mine(rnd.start_timestamp + 2)  # the executor's clock: well before lock
    chain.set_next_timestamp(rnd.lock_timestamp + 1)  # ... but the block that mines the bet comes after lock
    bot.executor.preflight = False
    result = bot.executor.place(BetRequest(market=sc.market, epoch=epoch, position=Position.BULL, amount=10**15,
                                           lock_ts=rnd.lock_timestamp, start_ts=rnd.start_timestamp))
    assert result.state is IntentState.TOO_LATE and result.tx_hash
    gas = int(chain.w3.eth.get_transaction_receipt(result.tx_hash)["gasUsed"]) * int(
        chain.w3.eth.get_transaction_receipt(result.tx_hash)["effectiveGasPrice"])
    assert gas > 0
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": [chain.url]}},
        "markets": [{"name": "devnet", "chain": "dev", "dialect": "v2", "address": deployments["v2"].market_address}],
        "risk": {"kill_switch_file": str(tmp_path / "KILL")},
    }))
    assert main(["-c", str(cfg), "history", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [(h["epoch"], h["gas_wei"], h["net_pnl_wei"]) for h in history] == [(epoch, gas, -gas)]
    assert history[0]["outcome"] == "reverted" and history[0]["settled"] and history[0]["mode"] == "live"
    assert main(["-c", str(cfg), "pnl", "--json"]) == 0
    pnl = json.loads(capsys.readouterr().out)
    assert sum(r["net_pnl_wei"] for r in pnl) == -gas and sum(r["gas_wei"] for r in pnl) == gas
