"""Every documented exit code (0-6), read from a real process: ``python main.py ...`` as a subprocess.

0 ok; 1 unexpected; 2 bad usage or input; 3 bad config; 4 needs a human; 5 temporary; 6 refused. A user mistake ends
in one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from devkit.devnet.keeper import Keeper
from tests.cli.test_cli import write_config

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "main.py")
P = 600 * 10**8


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ALLORA_BOT")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, MAIN, *args], cwd=ROOT, env=full_env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def one_clear_line(proc: subprocess.CompletedProcess[str]) -> str:
    err = proc.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The closing line of stderr (failover warnings may come before it), with no traceback anywhere."""
    err = proc.stderr.strip()
    assert "Traceback" not in err and err, err
    return err.splitlines()[-1]


def config(tmp_path: Path, url: str = "http://127.0.0.1:9", address: str = "0x" + "ab" * 20, **extra: object) -> str:
    return str(write_config(tmp_path, url=url, address=address, **extra))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- 0 ---------------------------------------------------------------------------------------------------------------

def test_version_and_a_valid_config_exit_0(tmp_path: Path) -> None:
    proc = cli("--version")
    assert proc.returncode == 0 and re.fullmatch(r"allora-bot \d+\.\d+\.\d+\S*", proc.stdout.strip())
    proc = cli("-c", config(tmp_path), "config", "check")
    assert proc.returncode == 0 and "config OK" in proc.stdout


# -- 2 ---------------------------------------------------------------------------------------------------------------

def test_backtest_with_a_missing_rounds_file_is_one_line_exit_2() -> None:
    proc = cli("backtest", "--rounds-file", "missing.csv")
    assert proc.returncode == 2
    assert "missing.csv" in one_clear_line(proc)


@pytest.mark.parametrize("name, body", [("bad.csv", "epoch,lock_ts\n1,x\n"), ("bad.ndjson", '{"epoch": 1}\n{oops\n'),
                                        ("empty.csv", "")])
def test_backtest_with_a_malformed_rounds_file_is_one_line_exit_2(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / name
    path.write_text(body)
    proc = cli("backtest", "--rounds-file", str(path))
    assert proc.returncode == 2
    assert name in one_clear_line(proc)


def test_sweep_with_an_unknown_grid_key_is_one_line_exit_2() -> None:
    proc = cli("sweep", "--grid", "min_edgee=0.01,0.02")
    assert proc.returncode == 2
    assert "min_edgee" in one_clear_line(proc)


def test_bad_amount_is_exit_2(tmp_path: Path) -> None:
    proc = cli("-c", config(tmp_path), "bet", "bull", "--market", "m1", "--amount", "abc", "--yes")
    assert proc.returncode == 2 and "not an amount" in one_clear_line(proc)
    assert not (tmp_path / "bot.db").exists()


# -- 3 ---------------------------------------------------------------------------------------------------------------

def test_typo_in_strategy_params_fails_config_check_and_run_with_exit_3(tmp_path: Path) -> None:
    cfg = config(tmp_path, strategy={"name": "edge", "params": {"min_egde": 0.05}})
    for args in (["config", "check"], ["run", "--rounds", "1"]):
        proc = cli("-c", cfg, *args)
        assert proc.returncode == 3, proc.stderr
        line = one_clear_line(proc)
        assert "strategy" in line and "min_egde" in line and "min_edge" in line  # names the typo and the right name


def test_unknown_config_key_is_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"markets": [{"name": "x", "chain": "dev", "dialect": "v2", "adress": "0x1"}]}))
    proc = cli("-c", str(bad), "config", "check")
    assert proc.returncode == 3 and "adress" in one_clear_line(proc)


# -- 4 ---------------------------------------------------------------------------------------------------------------

def test_live_bet_without_a_key_is_exit_4(tmp_path: Path) -> None:
    proc = cli("-c", config(tmp_path), "bet", "bull", "--market", "m1", "--amount", "0.01", "--live", "--yes")
    assert proc.returncode == 4 and "no signing key" in one_clear_line(proc)


def test_main_py_with_a_python_lacking_the_dependencies_says_how_to_set_up() -> None:
    # -S: no site-packages, as with a system Python that never had `make setup`
    proc = subprocess.run([sys.executable, "-S", MAIN, "--version"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 4
    line = one_clear_line(proc)
    assert "make setup" in line and ".venv/bin/python" in line


@pytest.mark.anvil
def test_status_against_an_address_without_a_contract_is_exit_4(chain, tmp_path: Path) -> None:
    empty = chain.accounts[15]  # a funded account: no code
    proc = cli("-c", config(tmp_path, url=chain.url, address=empty), "status")
    assert proc.returncode == 4
    line = one_clear_line(proc)
    assert "no contract" in line and empty.lower() in line.lower()


# -- 5 ---------------------------------------------------------------------------------------------------------------

def test_unreachable_rpc_is_exit_5(tmp_path: Path) -> None:
    proc = cli("-c", config(tmp_path, url=f"http://127.0.0.1:{closed_port()}"), "status")
    assert proc.returncode == 5 and "temporary" in last_line(proc)


def test_download_data_without_a_reachable_exchange_is_exit_5(tmp_path: Path) -> None:
    proc = cli("download-data", "--since", "2025-01-01", "--until", "2025-01-02", "--cache-dir", str(tmp_path),
               "--api-url", f"http://127.0.0.1:{closed_port()}", "--retries", "1", "--json")
    assert proc.returncode == 5, proc.stderr
    assert "unreachable" in one_clear_line(proc)


# -- 6 ---------------------------------------------------------------------------------------------------------------

@pytest.fixture
def devnet(chain, v2, tmp_path: Path):
    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=P)
    keeper.advance_to(chain.chain_time() + 1)
    cfg = config(tmp_path, url=chain.url, address=v2.market_address,
                 risk={"kill_switch_file": str(tmp_path / "KILL"), "max_stake_per_bet_wei": 5 * 10**16})
    return cfg, {"ALLORA_BOT_PRIVATE_KEY": chain.private_keys[7]}


@pytest.mark.anvil
def test_bets_that_do_not_land_exit_6(devnet) -> None:
    cfg, env = devnet
    over_cap = cli("-c", cfg, "bet", "bull", "--market", "m1", "--amount", "0.06", "--live", "--yes", env=env)
    assert over_cap.returncode == 6 and "risk limit" in one_clear_line(over_cap)
    landed = cli("-c", cfg, "bet", "bear", "--market", "m1", "--amount", "0.02", "--live", "--yes", "--json", env=env)
    assert landed.returncode == 0, landed.stderr
    assert json.loads(landed.stdout)["result"] == "landed"
    again = cli("-c", cfg, "bet", "bull", "--market", "m1", "--amount", "0.02", "--live", "--yes", "--json", env=env)
    assert again.returncode == 6 and json.loads(again.stdout)["duplicate"] is True
    assert "already has a bet" in again.stderr
    late = cli("-c", cfg, "bet", "bull", "--market", "m1", "--amount", "0.02", "--epoch", "5", "--yes", env=env)
    assert late.returncode == 6 and "not bettable" in one_clear_line(late)


# -- 1 ---------------------------------------------------------------------------------------------------------------

@pytest.mark.anvil
@pytest.mark.slow
def test_demo_exits_non_zero_when_reconciled_pnl_differs_from_the_balance_change(tmp_path: Path) -> None:
    """A real demo run; while it runs, someone sends 1 wei to the bot's account. That wei is no bet's PnL, so the
    reconciled PnL differs from the balance change by exactly 1 wei: the report says so and the process exits 1."""
    from web3 import Web3

    from devkit.demo.world import BOT_ACCOUNT_INDEX
    from devkit.devnet.anvil import dev_private_keys

    bot_key = dev_private_keys(BOT_ACCOUNT_INDEX + 1)[BOT_ACCOUNT_INDEX]
    bot_account = Web3().eth.account.from_key(bot_key).address
    proc = subprocess.Popen([sys.executable, MAIN, "demo", "--rounds", "3", "--interval", "7", "--workdir",
                             str(tmp_path / "demo"), "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None
    err_lines: list[str] = []
    drain = threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    drain.start()
    try:
        first = proc.stdout.readline()
        match = re.search(r"anvil (http://127\.0\.0\.1:\d+)", first)
        assert match, first + "".join(err_lines)
        w3 = Web3(Web3.HTTPProvider(match.group(1)))
        donor = Web3.to_checksum_address("0x" + "d0" * 20)  # an outsider, not one of the demo's own accounts
        w3.provider.make_request("anvil_setBalance", [donor, hex(10**18)])  # type: ignore[arg-type]
        w3.provider.make_request("anvil_impersonateAccount", [donor])  # type: ignore[arg-type]
        time.sleep(2)
        tx = w3.eth.send_transaction({"from": donor, "to": bot_account, "value": 1})
        assert w3.eth.wait_for_transaction_receipt(tx, timeout=30)["status"] == 1
        rest = proc.stdout.read()
        code = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    report = json.loads(rest[rest.index("{"):])
    assert report["pnl"]["equal"] is False and report["pnl"]["difference_wei"] == -1
    assert code == 1
