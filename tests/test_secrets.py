"""The private key and the keystore password never appear in output, logs, the database or any file we write —
on success paths and on every error path we can provoke."""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main

KEY = "0x" + "5e" * 31 + "c7"
PASSWORD = "correct-horse-battery-staple-42"


def _config(tmp_path: Path, name: str = "c.yaml", **over) -> Path:
    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": [over.pop("url", "http://127.0.0.1:9")], "request_timeout": 1}},
        "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": over.pop("address", "0x" + "ab" * 20)}],
        "wallet": {"keystore": over.pop("keystore", None)},
        "risk": {"kill_switch_file": str(tmp_path / "KILL")},
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(tree))
    return path


def _scan(tmp_path: Path, texts: list[str]) -> None:
    needles = [KEY.lower(), KEY[2:].lower(), PASSWORD.lower()]
    for text in texts:
        for needle in needles:
            assert needle not in text.lower()
    for file in tmp_path.rglob("*"):
        if file.is_file():
            data = file.read_bytes().lower()
            for needle in needles:
                assert needle.encode() not in data, file
            assert bytes.fromhex(KEY[2:]) not in file.read_bytes(), file


def test_error_and_success_paths_never_show_secrets(tmp_path, capsys, caplog, monkeypatch, anvil, deployments):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", KEY)
    monkeypatch.setenv("ALLORA_BOT_KEYSTORE_PASSWORD", PASSWORD)
    texts: list[str] = []

    def run(*args: str) -> int:
        code = main(list(args))
        out, err = capsys.readouterr()
        texts.extend([out, err])
        return code

    cfg = _config(tmp_path)
    assert run("-c", str(cfg), "config", "show") == 0
    assert run("-c", str(cfg), "config", "show", "--json") == 0
    assert run("-c", str(cfg), "status") == 5  # RPC down
    assert run("-c", str(cfg), "bet", "bull", "-m", "m1", "-a", "0.01", "--live", "--yes") == 5
    ks = tmp_path / "ks.json"
    assert run("-c", str(cfg), "wallet", "import", "--keystore", str(ks)) == 0
    assert run("-c", str(cfg), "wallet", "address", "--keystore", str(ks)) == 0
    # a wrong keystore password, a malformed key, a missing keystore
    cfg_ks = _config(tmp_path, "ks.yaml", keystore=str(ks), url=anvil.url, address=deployments["v2"].market_address)
    monkeypatch.setenv("ALLORA_BOT_KEYSTORE_PASSWORD", PASSWORD + "x")
    assert run("-c", str(cfg_ks), "bet", "bull", "-m", "m1", "-a", "0.01", "--live", "--yes") == 4
    monkeypatch.setenv("ALLORA_BOT_KEYSTORE_PASSWORD", PASSWORD)
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", KEY[:-3] + "zzz")
    assert run("-c", str(cfg), "bet", "bull", "-m", "m1", "-a", "0.01", "--live", "--yes") == 4
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", KEY)
    # wrong chain id with the key loaded
    tree = yaml.safe_load(cfg_ks.read_text())
    tree["chains"]["dev"]["chain_id"] = 1
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(tree))
    assert run("-c", str(tmp_path / "wrong.yaml"), "bet", "bull", "-m", "m1", "-a", "0.01", "--live", "--yes") == 4
    # a live bet with the keystore (round not started: refused), then config show with the keystore configured
    assert run("-c", str(cfg_ks), "bet", "bull", "-m", "m1", "-a", "0.01", "--live", "--yes") in (2, 6)
    assert run("-c", str(cfg_ks), "config", "show") == 0
    texts.append("\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records))
    _scan(tmp_path, texts)
    assert Account.from_key(KEY).address  # the key itself was valid all along


ARG_WORDS = ["bet", "bull", "bear", "claim", "status", "history", "pnl", "config", "show", "check", "wallet", "address",
             "report", "accuracy", "--market", "m1", "nope", "--amount", "0.01", "-1", "1e999", "nan", "--epoch", "0",
             "--json", "--yes", "--live", "--account", "0x12", "--limit", "-5", "", "--", "🙂", "rounds", "export"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(ARG_WORDS), min_size=1, max_size=7))
def test_random_cli_arguments_end_in_a_clear_exit(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.delenv("ALLORA_BOT_PRIVATE_KEY", raising=False)
    cfg = _config(tmp_path)
    code = main(["-c", str(cfg), *argv])
    out, err = capsys.readouterr()
    assert isinstance(code, int) and 0 <= code <= 6
    assert "Traceback" not in err
