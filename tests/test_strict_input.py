"""Strict parsing of what a user types or configures: amounts, addresses, market lists, safety limits, env overrides.

Each bad input ends in one clear line and the documented exit code (2 bad input, 3 bad config) from a real process,
with nothing written and nothing bet; the pure rules are checked exhaustively with Hypothesis.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.cli.common import CliError, parse_amount
from bot.config import ConfigError, apply_env_overrides, parse_settings

ROOT = Path(__file__).resolve().parents[1]
KEY = "0x" + "5e" * 31 + "c7"
CHECKSUMMED = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # anvil's first contract address, EIP-55
BASE = {
    "chains": {"dev": {"chain_id": 31337, "rpc_urls": ["http://127.0.0.1:9"]}},
    "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": CHECKSUMMED}],
}


def _cli(tmp_path: Path, *args: str, tree: dict | None = None, env: dict[str, str] | None = None):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}", "risk": {"kill_switch_file": str(tmp_path / "KILL")},
        **(tree or BASE)}))
    full = {k: v for k, v in os.environ.items() if not k.startswith("ALLORA_BOT")}
    full.update(env or {})
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "-c", str(cfg), *args], cwd=ROOT, env=full,  # noqa: S603
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    err = proc.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


# -- amounts ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "message"), [
    ("1.0000000000000000000000000001", "more than 18 decimals"),  # was silently rounded to 1 coin
    ("\u0663", "not an amount"),  # Arabic-Indic three: was accepted as 3 coins
    ("1e400", "not an amount"),  # was a traceback
    ("1e999999999", "not an amount"),  # was a traceback
    ("9" * 60, "too large"),
])
def test_bad_amounts_are_one_line_exit_2_and_nothing_written(tmp_path, amount, message):
    proc = _cli(tmp_path, "bet", "bull", "--market", "m1", "--amount", amount, "--yes")
    assert proc.returncode == 2 and message in _one_line(proc)
    assert not (tmp_path / "bot.db").exists()


@given(st.integers(min_value=1, max_value=10**30), st.integers(min_value=0, max_value=24))
def test_amount_text_round_trips_exactly(wei, decimals):
    whole, frac = divmod(wei, 10**decimals)
    text = f"{whole}.{str(frac).zfill(decimals)}" if decimals else str(whole)
    assert parse_amount(text, decimals) == wei
    assert parse_amount(f"{wei}wei", decimals) == wei
    if decimals:
        with pytest.raises(CliError, match="decimals"):
            parse_amount(text + "1", decimals)  # one digit more than the coin has


@given(st.text(max_size=12))
def test_any_text_is_an_exact_amount_or_one_clear_error(text):
    try:
        value = parse_amount(text)
    except CliError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(value, int) and value > 0
    raw = text.strip().lower()
    assert raw.isascii()
    assert value == (int(raw[:-3]) if raw.endswith("wei") else int(Decimal(raw) * 10**18))


# -- config ----------------------------------------------------------------------------------------------------------

def _market(**over: object) -> dict:
    return {**BASE["markets"][0], **over}


def test_eip55_checksum_is_verified_for_mixed_case():
    assert parse_settings(BASE).markets[0].address == CHECKSUMMED
    assert parse_settings({**BASE, "markets": [_market(address=CHECKSUMMED.lower())]})  # lower case: no checksum
    typo = CHECKSUMMED[:-1] + "A"  # one letter's case changed
    with pytest.raises(ConfigError, match=r"markets\.0\.address: .*EIP-55"):
        parse_settings({**BASE, "markets": [_market(address=typo)]})


def test_the_same_contract_under_two_names_is_refused():
    tree = {**BASE, "markets": [_market(), _market(name="m2", address=CHECKSUMMED.lower())]}
    with pytest.raises(ConfigError, match=r"markets\.1\.address: .* already market 'm1'"):
        parse_settings(tree)


@pytest.mark.parametrize(("section", "values", "message"), [
    ("execution", {"lead_seconds": float("inf")}, r"execution\.lead_seconds"),
    ("execution", {"max_clock_skew_seconds": float("inf")}, r"execution\.max_clock_skew_seconds"),
    ("risk", {"max_stake_per_bet_wei": float("inf")}, r"risk\.max_stake_per_bet_wei"),
    ("risk", {"bankroll_fraction": float("nan")}, r"risk\.bankroll_fraction"),
    ("risk", {"max_stake_per_bet_wei": 10**19, "max_stake_per_day_wei": 10**18}, "above max_stake_per_day_wei"),
    ("execution", {"gas": {"floor_gwei": "100", "ceiling_gwei": "50"}}, "floor_gwei .* above ceiling_gwei"),
    ("execution", {"gas": {"ceiling_gwei": "Infinity"}}, r"execution\.gas\.ceiling_gwei"),
    ("execution", {"gas": {"floor_gwei": "-1"}}, r"execution\.gas\.floor_gwei"),
])
def test_safety_limits_are_finite_and_consistent(section, values, message):
    with pytest.raises(ConfigError, match=message):
        parse_settings({**BASE, section: values})


def test_env_override_addresses_stay_strings():
    env = {"ALLORA_BOT__MARKETS__0__ADDRESS": CHECKSUMMED, "ALLORA_BOT__ALLORA__SIGNATURE__CONSUMER_ADDRESS":
           "0x" + "12" * 20, "ALLORA_BOT__EXECUTION__CONFIRMATIONS": "010"}
    tree = apply_env_overrides(yaml.safe_load(yaml.safe_dump(BASE)), env)
    settings = parse_settings(tree)
    assert settings.markets[0].address == CHECKSUMMED
    assert settings.allora.signature.consumer_address == "0x" + "12" * 20
    assert settings.execution.confirmations == 10  # decimal, not YAML 1.1 octal 8


@pytest.mark.parametrize("field", ["WALLET__PRIVATE_KEY_ENV", "WALLET__PASSWORD_ENV", "ALLORA__API_KEY_ENV"])
def test_a_key_pasted_into_an_env_field_is_refused_without_echo(tmp_path, field):
    proc = _cli(tmp_path, "config", "show", env={f"ALLORA_BOT__{field}": KEY})
    err = _one_line(proc)
    assert proc.returncode == 3 and "looks like a secret" in err
    assert KEY[2:].lower() not in (proc.stdout + proc.stderr).lower()
    bare = _cli(tmp_path, "config", "check", tree={**BASE, "wallet": {"private_key_env": KEY[2:]}})
    assert bare.returncode == 3 and KEY[2:].lower() not in (bare.stdout + bare.stderr).lower()


def test_bad_config_through_the_cli_is_one_line_exit_3(tmp_path):
    tree = {**BASE, "markets": [_market(), _market(name="m2")], "execution": {"lead_seconds": ".inf"}}
    proc = _cli(tmp_path, "config", "check", tree=tree)
    assert proc.returncode == 3 and "invalid config" in _one_line(proc)
