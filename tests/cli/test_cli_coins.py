"""The CLI in coins, at the boundary a user sees: amounts in the market's coin equal the journal's wei exactly (``--wei``
shows the integers), paper and live apart, open vs settled, real dates, tables that fit ``COLUMNS``, ``--json`` that
parses, ``claim`` refused without ``--live``, ``-c`` after the subcommand (as real subprocesses, for the exit codes),
examples in every ``--help``, ``list-strategies`` and ``backtest show`` reopening a saved result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from bot.coins import format_units
from bot.store.db import make_engine, session_factory, session_scope
from bot.store.journal import TxAttempt
from devkit.cli import main
from tests.test_query import DAY1, DAY2, _intent, _settlement

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = "0x" + "ab" * 20
# (mode, epoch, outcome, stake, payout, gas) of the bets seeded below, as the journal holds them
SETTLED = [("paper", 10, "won", 10**16, 19 * 10**15, 0), ("live", 11, "lost", 2 * 10**16, 0, 21_000 * 10**9),
           ("live", 12, "won", 5 * 10**16, 91_234_567_890_123_457, 30_000 * 10**9)]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    """A paper config on a BNB chain (no node: nothing here may connect) whose journal holds paper and live bets, open
    and settled, on two UTC days."""
    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"bsc": {"chain_id": 56, "rpc_urls": ["http://127.0.0.1:9"], "request_timeout": 2,
                           "native_symbol": "BNB"}},
        "markets": [{"name": "m1", "chain": "bsc", "dialect": "v2", "address": "0x" + "12" * 20}],
        "risk": {"kill_switch_file": str(tmp_path / "KILL")},
    }
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(tree))
    engine = make_engine(tree["database_url"])
    with session_scope(session_factory(engine)) as s:
        for mode, epoch, outcome, stake, payout, gas in SETTLED:
            s.add(_intent("m1", epoch, mode, "paper" if mode == "paper" else "landed", stake,
                          tx_hash=None if mode == "paper" else "0x" + f"{epoch:02d}" * 32))
            s.add(_settlement("m1", epoch, mode, outcome, stake, payout, gas, DAY2 if epoch == 11 else DAY1,
                              claimable=outcome == "won" and mode == "live"))
        s.add(_intent("m1", 13, "live", "landed", 7 * 10**15, gas_cost_wei=25_000 * 10**9, position=1))  # open
        s.add(_intent("m1", 14, "paper", "paper", 3 * 10**15))  # open
    engine.dispose()
    return cfg


def table_rows(text: str) -> list[dict[str, str]]:
    """The rows of every one-line-per-row rich table in ``text``, as header -> cell text."""
    tables: list[dict[str, str]] = []
    header: list[str] = []
    for line in text.splitlines():
        if line.startswith("┃"):
            header = [h.strip() for h in line.strip("┃").split("┃")]
        elif line.startswith("│") and header:
            tables.append(dict(zip(header, (c.strip() for c in line.strip("│").split("│")), strict=True)))
    return tables


def test_history_shows_coins_that_equal_the_journals_wei(capsys, seeded, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    rc, out, err = run(capsys, "history", "-c", str(seeded))
    assert rc == 0, err
    rows = {int(r["epoch"]): r for r in table_rows(out)}
    for _mode, epoch, outcome, stake, payout, gas in SETTLED:
        row = rows[epoch]
        assert row["stake (BNB)"] == format_units(stake, 18) and row["payout (BNB)"] == format_units(payout, 18)
        assert row["gas (BNB)"] == format_units(gas, 18) and row["outcome"].startswith(outcome)
        assert row["net PnL (BNB)"] == format_units(payout - stake - gas, 18)
    assert rows[12]["payout (BNB)"] == "0.091234567890123457"  # 18 decimals, exact: no float rounding
    assert rows[13]["outcome"] == rows[14]["outcome"] == "open" and rows[13]["net PnL (BNB)"] == "-"
    assert rows[11]["when (UTC)"] == "2026-12-01 00:00" and rows[10]["when (UTC)"] == "2026-11-30 23:59"
    assert "live bets" in out and "paper bets" in out and out.index("live bets") < out.index("paper bets")
    live, paper = out.split("paper bets")
    assert {int(r["epoch"]) for r in table_rows(live)} == {11, 12, 13}  # each bet in its own mode's table
    assert {int(r["epoch"]) for r in table_rows(paper)} == {10, 14}
    assert "1970" not in out and "5 bet(s): 2 open, 3 settled" in out
    rc, wei_out, _ = run(capsys, "history", "-c", str(seeded), "--wei")
    wei_rows = {int(r["epoch"]): r for r in table_rows(wei_out)}
    assert wei_rows[12]["payout (wei)"] == "91234567890123457" and "BNB" not in wei_out


def test_history_and_pnl_json_parse_with_exact_wei_and_coin_text(capsys, seeded):
    rc, out, _ = run(capsys, "history", "--json", "-c", str(seeded))
    rows = json.loads(out)
    assert rc == 0 and {(r["mode"], r["epoch"]) for r in rows} == {("paper", 10), ("live", 11), ("live", 12),
                                                                    ("live", 13), ("paper", 14)}
    for r in rows:
        assert r["amount"] == format_units(r["amount_wei"], 18) and r["coin"] == "BNB"
        assert r["settled"] == (r["outcome"] != "open") and (r["settled_utc"] is None) == (not r["settled"])
    rc, out, _ = run(capsys, "history", "--json", "--open", "--mode", "live", "-c", str(seeded))
    assert [(r["epoch"], r["side"], r["amount_wei"], r["gas_wei"]) for r in json.loads(out)] == [
        (13, "bear", 7 * 10**15, 25_000 * 10**9)]
    rc, out, _ = run(capsys, "pnl", "--json", "-c", str(seeded))
    pnl = json.loads(out)
    assert rc == 0 and {(r["mode"], r["day"]) for r in pnl} == {("paper", "2026-11-30"), ("live", "2026-11-30"),
                                                               ("live", "2026-12-01")}
    assert sum(r["net_pnl_wei"] for r in pnl if r["mode"] == "live") == sum(
        p - s - g for m, _, _, s, p, g in SETTLED if m == "live")
    assert all(r["net_pnl"] == format_units(r["net_pnl_wei"], 18) for r in pnl)


def test_tables_fit_the_terminal(capsys, seeded, monkeypatch):
    for width in (80, 100):
        monkeypatch.setenv("COLUMNS", str(width))
        for command in ("history", "pnl"):
            rc, out, _ = run(capsys, command, "-c", str(seeded))
            assert rc == 0
            assert max(len(line) for line in out.splitlines()) <= width, out
            assert "…" not in out  # nothing cut off: a column is left out or a cell folds instead


def test_claim_without_live_is_refused_and_sends_nothing(capsys, seeded, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    rc, out, err = run(capsys, "claim", "--json", "-c", str(seeded))
    assert rc == 2 and "nothing sent" in err and "--live" in err and len(err.strip().splitlines()) == 1
    preview = json.loads(out)
    assert preview["sent"] is False and [(b["epoch"], b["payout"]) for b in preview["claimable"]] == [
        (12, "0.091234567890123457")]
    rc, out, err = run(capsys, "claim", "-c", str(seeded))
    assert rc == 2 and [(r["epoch"], r["payout (BNB)"]) for r in table_rows(out)] == [("12", "0.091234567890123457")]
    rc, _, err = run(capsys, "claim", "--live", "-c", str(seeded))  # no terminal to confirm on, no --yes
    assert rc == 2 and "confirmation needed" in err
    engine = make_engine(f"sqlite:///{seeded.parent / 'bot.db'}")
    with session_scope(session_factory(engine)) as s:
        assert s.query(TxAttempt).count() == 0
    engine.dispose()


def _subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ALLORA_BOT")}, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, cwd=cwd)


def test_config_after_the_subcommand_as_a_real_process(seeded, tmp_path):
    done = _subprocess("history", "-c", str(seeded), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 5
    done = _subprocess("pnl", "--config", str(seeded), cwd=tmp_path)
    assert done.returncode == 0 and "BNB" in done.stdout and "1970" not in done.stdout
    done = _subprocess("history", "--json", "-c", str(tmp_path / "missing.yaml"), cwd=tmp_path)
    assert done.returncode == 3 and "config file not found" in done.stderr
    done = _subprocess("claim", "-c", str(seeded), cwd=tmp_path)
    assert done.returncode == 2 and "--live" in done.stderr and "Traceback" not in done.stderr


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


# bot/cli/daemon.py (`run`) belongs to another change in progress: its examples come with it
NOT_OURS = {("run",)}


def test_every_commands_help_has_examples_and_every_option_a_help_text(capsys):
    from bot.cli import cli

    main(["--help"])  # registers the devkit's commands and -c on every command
    capsys.readouterr()
    seen = 0
    for path, command in _commands(cli):
        rc, out, err = run(capsys, *path, "--help")
        assert rc == 0, (path, err)
        assert "-c, --config" in out, path
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"
        if path not in NOT_OURS:
            assert "Example" in out, path
            shown = out.split("Example")[-1]
            assert f"allora-bot {path[0]}" in shown or f"main.py {path[0]}" in shown, path
        seen += 1
    assert seen >= 30


def test_list_strategies(capsys):
    from strategies.registry import BUILTIN

    rc, out, _ = run(capsys, "list-strategies", "--json")
    rows = json.loads(out)
    assert rc == 0 and [r["name"] for r in rows] == sorted(BUILTIN)
    assert all(r["description"] and "\n" not in r["description"] for r in rows)
    rc, out, _ = run(capsys, "list-strategies")
    lines = out.strip().splitlines()
    assert len(lines) == len(BUILTIN) and lines[0].split()[0] == sorted(BUILTIN)[0]
    assert any("edge" in line and "Kelly" in line for line in lines)


def test_backtest_show_reopens_a_saved_result(capsys, tmp_path):
    saved = tmp_path / "bt" / "edge.json"
    rc, out, err = run(capsys, "backtest", "--set", "end=2025-05-04", "--out", str(saved), "--json")
    assert rc == 0, err
    report = json.loads(out)
    rc, out, _ = run(capsys, "backtest", "show", str(saved), "--json")
    assert rc == 0 and json.loads(out) == report
    rc, out, _ = run(capsys, "backtest", "show", str(saved))
    assert rc == 0 and f"fingerprint {report['fingerprint']}" in out and report["strategy"] in out
    assert "{'" not in out and "hit rate" in out
    rc, _, err = run(capsys, "backtest", "show", str(tmp_path))
    assert rc == 2 and "no saved backtest" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "junk.json").write_text("[1, 2]")
    rc, _, err = run(capsys, "backtest", "show", str(tmp_path / "junk.json"))
    assert rc == 2 and "not a saved backtest" in err


# -- against anvil: status and the bet preview --------------------------------------------------------------------

@pytest.fixture
def devnet_cfg(chain, v2, tmp_path, monkeypatch):
    from devkit.devnet.keeper import Keeper

    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=600 * 10**8)
    keeper.advance_to(chain.chain_time() + 1)
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", chain.private_keys[7])
    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": [chain.url], "request_timeout": 5}},
        "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": v2.market_address}],
        "risk": {"kill_switch_file": str(tmp_path / "KILL")},
    }
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(tree))
    return cfg


@pytest.mark.anvil
def test_bet_and_status_speak_coins_without_raw_structures(capsys, devnet_cfg, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    rc, out, err = run(capsys, "bet", "bull", "-m", "m1", "-a", "0.0123", "--yes", "--json", "-c", str(devnet_cfg))
    assert rc == 0, err
    bet = json.loads(out)
    assert bet["stake_wei"] == 123 * 10**14 and bet["stake"] == "0.0123" and bet["coin"] == "ETH"
    assert bet["payout_if_win"] == format_units(bet["payout_if_win_wei"], 18)
    rc, out, err = run(capsys, "status", "-c", str(devnet_cfg))
    assert rc == 0, err
    assert "{" not in out and "[" not in out and "None" not in out  # no Python structure printed
    assert "paper" in out and "no heartbeat" in out
    [recent] = [r for r in table_rows(out) if "stake (ETH)" in r]
    assert recent["stake (ETH)"] == "0.0123" and recent["outcome"] == "open" and recent["mode"] == "paper"
    rc, out, _ = run(capsys, "status", "--wei", "-c", str(devnet_cfg))
    assert [r["stake (wei)"] for r in table_rows(out) if "stake (wei)" in r] == [str(123 * 10**14)]
    rc, out, _ = run(capsys, "status", "--json", "-c", str(devnet_cfg))
    data = json.loads(out)
    assert data["recent_bets"][0]["amount_wei"] == 123 * 10**14 and data["recent_bets"][0]["outcome"] == "open"
