"""Every command through the CLI entry point (``bot.cli.main``): output, --json, exit codes, and bad input that ends
in one clear line, a non-zero exit code and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, select

from bot.store.journal import Intent
from devkit.cli import main  # the CLI main.py runs: the product commands and the devkit's
from devkit.devnet.keeper import Keeper

P = 600 * 10**8


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_config(tmp_path: Path, url: str = "http://127.0.0.1:9", address: str = "0x" + "ab" * 20, **extra) -> Path:
    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": [url], "request_timeout": 2}},
        "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": address}],
        "risk": {"kill_switch_file": str(tmp_path / "KILL")},
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


# -- offline commands ----------------------------------------------------------------------------------------------

def test_help_lists_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in ("run", "bet", "claim", "status", "history", "pnl", "truth", "report", "wallet", "config", "demo"):
        assert name in out


def test_config_show_json_is_redacted(capsys, tmp_path):
    cfg = write_config(tmp_path, url="https://user:secret@node.example/rpc")
    code, out, _ = run(capsys, "-c", str(cfg), "config", "show", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["markets"][0]["name"] == "m1" and "secret" not in out
    assert data["mode"] == "paper"  # paper is the default


def test_config_check_and_bad_config(capsys, tmp_path):
    cfg = write_config(tmp_path)
    assert run(capsys, "-c", str(cfg), "config", "check")[0] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"markets": [{"name": "x", "chain": "nope", "dialect": "v9", "address": "0x1"}]}))
    code, _, err = run(capsys, "-c", str(bad), "config", "check")
    assert code == 3
    assert "markets.0.dialect" in err and "markets.0.address" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_config_file(capsys, tmp_path):
    code, _, err = run(capsys, "-c", str(tmp_path / "none.yaml"), "status")
    assert code == 3 and "config file not found" in err


@pytest.mark.parametrize(
    "args, message, code",
    [
        (["bet", "bull", "--market", "nope", "--amount", "0.01", "--yes"], "unknown market 'nope'", 2),
        (["bet", "bull", "--market", "m1", "--amount", "-1", "--yes"], "amount must be positive", 2),
        (["bet", "bull", "--market", "m1", "--amount", "abc", "--yes"], "not an amount", 2),
        (["bet", "bull", "--market", "m1", "--amount", "0.0000000000000000001", "--yes"], "more than 18 decimals", 2),
        (["bet", "sideways", "--market", "m1", "--amount", "1"], "Invalid value", 2),
        (["status", "--account", "0x1234"], "malformed address", 2),
        (["history", "--account", "0xZZ"], "malformed address", 2),
        (["pnl", "--account", "nothex"], "malformed address", 2),
    ],
)
def test_bad_input_is_one_clear_line_and_nothing_written(capsys, tmp_path, args, message, code):
    cfg = write_config(tmp_path)
    rc, out, err = run(capsys, "-c", str(cfg), *args)
    assert rc == code
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "bot.db").exists()


def test_live_bet_without_key_is_refused_before_writing(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("ALLORA_BOT_PRIVATE_KEY", raising=False)
    cfg = write_config(tmp_path)
    rc, _, err = run(capsys, "-c", str(cfg), "bet", "bull", "--market", "m1", "--amount", "0.01", "--live", "--yes")
    assert rc == 4 and "no signing key" in err
    assert not (tmp_path / "bot.db").exists()


def test_mainnet_live_needs_confirmation(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", "0x" + "11" * 32)
    tree = yaml.safe_load(write_config(tmp_path).read_text())
    tree["chains"]["dev"]["mainnet"] = True
    (tmp_path / "main.yaml").write_text(yaml.safe_dump(tree))
    rc, _, err = run(capsys, "-c", str(tmp_path / "main.yaml"), "bet", "bull", "--market", "m1", "--amount", "0.01",
                     "--live", "--yes")
    assert rc == 4 and "confirm_mainnet" in err
    assert "11" * 32 not in err


def test_unreachable_rpc_is_temporary(capsys, tmp_path):
    cfg = write_config(tmp_path, url="http://127.0.0.1:9")
    rc, _, err = run(capsys, "-c", str(cfg), "status")
    assert rc == 5 and "temporary" in err and "Traceback" not in err


def test_wallet_new_import_address(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLORA_BOT_KEYSTORE_PASSWORD", "pw-for-test")
    cfg = write_config(tmp_path)
    ks = tmp_path / "ks.json"
    rc, out, _ = run(capsys, "-c", str(cfg), "wallet", "new", "--keystore", str(ks), "--json")
    assert rc == 0 and json.loads(out)["address"].startswith("0x")
    rc, out2, _ = run(capsys, "-c", str(cfg), "wallet", "address", "--keystore", str(ks))
    assert rc == 0 and out2.strip().lower() == json.loads(out)["address"].lower()
    key = "0x" + "42" * 32
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", key)
    rc, out3, err3 = run(capsys, "-c", str(cfg), "wallet", "import", "--keystore", str(tmp_path / "k2.json"))
    assert rc == 0 and "42" * 32 not in out3 + err3
    assert "42" * 32 not in (tmp_path / "k2.json").read_text()
    rc, _, err = run(capsys, "-c", str(cfg), "wallet", "new", "--keystore", str(ks))
    assert rc == 4 and "refusing to overwrite" in err


def test_report_accuracy_json_on_empty_log(capsys, tmp_path):
    cfg = write_config(tmp_path)
    rc, out, _ = run(capsys, "-c", str(cfg), "report", "accuracy", "--json")
    assert rc == 0 and json.loads(out)["topics"] == []


# -- against anvil ------------------------------------------------------------------------------------------------

@pytest.fixture
def devnet_cfg(chain, v2, tmp_path, monkeypatch):
    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=P)
    keeper.advance_to(chain.chain_time() + 1)
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", chain.private_keys[7])
    return write_config(tmp_path, url=chain.url, address=v2.market_address), keeper, chain


def intents(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(select(Intent.epoch, Intent.state, Intent.origin, Intent.mode))]


@pytest.mark.anvil
def test_status_json(capsys, devnet_cfg):
    cfg, _, chain = devnet_cfg
    rc, out, _ = run(capsys, "-c", str(cfg), "status", "--json")
    assert rc == 0
    data = json.loads(out)
    view = data["markets"]["m1"]
    assert view["epoch"] == 1 and view["status"] == "open" and view["seconds_to_lock"] > 0


@pytest.mark.anvil
def test_paper_bet_is_journaled_not_sent(capsys, devnet_cfg, tmp_path):
    cfg, _, chain = devnet_cfg
    rc, out, _ = run(capsys, "-c", str(cfg), "bet", "bull", "--market", "m1", "--amount", "0.01", "--yes", "--json")
    assert rc == 0, out
    data = json.loads(out)
    # paper mode is the paper sender: the same lifecycle as live (landed), a "paper:" attempt, nothing on chain
    assert data["result"] == "landed" and data["payout_if_win_wei"] > 0 and data["tx_hash"].startswith("paper:")
    assert intents(tmp_path) == [(1, "landed", "manual", "paper")]


@pytest.mark.anvil
def test_live_bet_lands_and_second_is_refused(capsys, devnet_cfg, tmp_path):
    cfg, _, chain = devnet_cfg
    rc, out, err = run(capsys, "-c", str(cfg), "bet", "bear", "--market", "m1", "--amount", "0.02", "--live", "--yes",
                       "--json")
    assert rc == 0, err
    assert json.loads(out)["result"] == "landed"
    rc, out, _ = run(capsys, "-c", str(cfg), "bet", "bull", "--market", "m1", "--amount", "0.02", "--live", "--yes",
                     "--json")
    assert json.loads(out)["duplicate"] is True  # one bet per round: the journal says so before the chain would
    assert [i[:2] for i in intents(tmp_path)] == [(1, "landed")]


@pytest.mark.anvil
def test_bet_below_minimum_and_not_bettable(capsys, devnet_cfg, tmp_path):
    cfg, keeper, chain = devnet_cfg
    rc, _, err = run(capsys, "-c", str(cfg), "bet", "bull", "--market", "m1", "--amount", "0.0001", "--yes")
    assert rc == 2 and "below the market minimum" in err
    assert intents(tmp_path) == []
    rc, _, err = run(capsys, "-c", str(cfg), "bet", "bull", "--market", "m1", "--amount", "0.01", "--epoch", "5",
                     "--yes")
    assert rc == 6 and "not bettable" in err


@pytest.mark.anvil
def test_confirmation_needed_without_a_terminal(capsys, devnet_cfg, tmp_path):
    cfg, _, _ = devnet_cfg
    rc, _, err = run(capsys, "-c", str(cfg), "bet", "bull", "--market", "m1", "--amount", "0.01")
    assert rc == 2 and "--yes" in err
    assert intents(tmp_path) == []


@pytest.mark.anvil
def test_wrong_chain_id_refused(capsys, chain, v2, tmp_path):
    tree = yaml.safe_load(write_config(tmp_path, url=chain.url, address=v2.market_address).read_text())
    tree["chains"]["dev"]["chain_id"] = 56
    (tmp_path / "bsc.yaml").write_text(yaml.safe_dump(tree))
    rc, _, err = run(capsys, "-c", str(tmp_path / "bsc.yaml"), "status")
    assert rc == 4 and "chain id 31337" in err and "refusing to act" in err
    assert not (tmp_path / "bot.db").exists()


@pytest.mark.anvil
def test_wrong_contract_is_a_clear_error(capsys, chain, v2, tmp_path):
    cfg = write_config(tmp_path, url=chain.url, address=v2.oracle_address)
    rc, _, err = run(capsys, "-c", str(cfg), "config", "check", "--online")
    assert rc == 4 and "wrong contract" in err


@pytest.mark.anvil
def test_claim_history_pnl_after_a_won_round(capsys, devnet_cfg, tmp_path):
    cfg, keeper, chain = devnet_cfg
    m = keeper.market
    rc, _, err = run(capsys, "-c", str(cfg), "bet", "bull", "--market", "m1", "--amount", "0.05", "--live", "--yes")
    assert rc == 0, err
    m.functions.betBear(1).transact({"from": chain.accounts[8], "value": 10**17, "gas": 200_000})  # the other side
    keeper.genesis_lock(P, at=keeper.lock_timestamp())
    keeper.execute(P + 10**8, at=keeper.lock_timestamp())
    keeper.advance_to(chain.chain_time() + 2)
    rc, out, err = run(capsys, "-c", str(cfg), "claim", "--json")  # without --live: a preview, nothing sent
    assert rc == 2 and "pass --live" in err
    assert [b["epoch"] for b in json.loads(out)["claimable"]] == [] and not m.functions.ledger(1, chain.accounts[7]).call()[2]
    rc, out, err = run(capsys, "-c", str(cfg), "claim", "--live", "--yes", "--json")
    assert rc == 0, err
    claimed = json.loads(out)
    assert any(r["claimed_epochs"] == [1] for reports in claimed.values() for r in reports)
    assert m.functions.ledger(1, chain.accounts[7]).call()[2] is True  # claimed flag on chain
    rc, out, _ = run(capsys, "-c", str(cfg), "history", "--json")
    rows = json.loads(out)
    assert rows and rows[0]["epoch"] == 1 and rows[0]["outcome"] == "won" and rows[0]["claimed"]
    assert rows[0]["mode"] == "live" and rows[0]["side"] == "bull" and rows[0]["amount_wei"] == 5 * 10**16
    rc, out, _ = run(capsys, "-c", str(cfg), "pnl", "--json")
    assert rc == 0 and json.loads(out)[0]["net_pnl_wei"] > 0
