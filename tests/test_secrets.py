"""The private key and the keystore password never appear in output, logs, the database or any file we write —
on success paths and on every error path we can provoke."""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devkit.cli import main  # the CLI main.py runs: the product commands and the devkit's

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
    run = _recording_runner(capsys, texts)
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


# -- RPC keys, live hardening ------------------------------------------------------------------------------------------

RPC_KEY = "9f3c2a7e5b1d4c8fa0e6b2d7c4f1a9e3"  # an API key in the URL path (Infura/Alchemy/NodeReal style)
QUERY_KEY = "Zq7xK2mP9vL4nR8tW3"  # an API key in the query string
RPC_PASSWORD = "rpc-basic-auth-pw-77"  # noqa: S105 — a test value
API_KEY = "UP-0123456789abcdef0123"
RPC_NEEDLES = [RPC_KEY, QUERY_KEY, RPC_PASSWORD, API_KEY]


def _keyed(port: int) -> str:
    return f"http://rpcuser:{RPC_PASSWORD}@127.0.0.1:{port}/v3/{RPC_KEY}?apikey={QUERY_KEY}"


def _recording_runner(capsys, texts: list[str]):  # noqa: ANN202 - a test helper
    """``run(*argv) -> exit code`` through ``main``, keeping stdout and stderr in ``texts``."""
    def run(*args: str) -> int:
        code = main(list(args))
        out, err = capsys.readouterr()
        texts.extend([out, err])
        return code

    return run


def _scan_rpc(tmp_path: Path, texts: list[str]) -> None:
    for text in texts:
        for needle in RPC_NEEDLES + [KEY[2:]]:
            assert needle.lower() not in text.lower(), (needle, text[:300])
    for file in tmp_path.rglob("*"):
        if file.is_file() and file.suffix != ".yaml":  # the user's own config files hold the URLs
            data = file.read_bytes().lower()
            for needle in RPC_NEEDLES + [KEY[2:]]:
                assert needle.lower().encode() not in data, (needle, file)


def test_rpc_keys_never_shown(tmp_path, capsys, caplog, monkeypatch, anvil, deployments):
    """Keys in RPC URLs (path, query, user:password) stay out of config show, errors, DEBUG logs and files."""
    from devkit.devnet.anvil import free_port
    from devkit.devnet.faultproxy import FaultPlan, FaultProxy

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", KEY)
    texts: list[str] = []
    run = _recording_runner(capsys, texts)
    down = _config(tmp_path, "down.yaml", url=_keyed(free_port()))
    assert run("-c", str(down), "config", "show") == 0
    assert run("-c", str(down), "config", "show", "--json") == 0
    assert "/v3/***" in texts[-2] and "apikey=***" in texts[-2]  # the endpoint is still recognisable
    assert run("-c", str(down), "-vv", "status") == 5  # the error names the failure, not the key
    assert run("-c", str(down), "-vv", "bet", "bull", "-m", "m1", "-a", "0.01", "--live", "--yes") == 5
    with FaultProxy(anvil.url, seed=1) as proxy:  # an endpoint that answers, through a keyed URL, failing half
        proxy.set_plan(FaultPlan(rate=0.5, kinds=("malformed", "http_5xx", "deep")))
        tree = yaml.safe_load(_config(tmp_path, "up.yaml", address=deployments["v2"].market_address).read_text())
        tree["chains"]["dev"]["rpc_urls"] = [_keyed(proxy.port), _keyed(free_port()), anvil.url]
        (tmp_path / "up.yaml").write_text(yaml.safe_dump(tree))
        assert run("-c", str(tmp_path / "up.yaml"), "-vv", "status", "--json") == 0
    texts.append("\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records))
    assert any("/v3/***" in t for t in texts[-1:])  # the DEBUG log did carry the (masked) URL
    _scan_rpc(tmp_path, texts)


def test_health_file_is_owner_only_and_masked(tmp_path):
    from bot.config import parse_settings
    from bot.engine.health import health_path, write_health
    from bot.redact import register_url

    settings = parse_settings({"database_url": f"sqlite:///{tmp_path / 'bot.db'}"})
    register_url(_keyed(1))
    write_health(settings, {"last_error": f"TemporaryError: POST {_keyed(1)} failed; with url: /v3/{RPC_KEY}"})
    path = health_path(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    _scan_rpc(tmp_path, [])
    assert "***" in path.read_text()


def test_live_daemon_is_hardened(tmp_path, chain, v2):
    """A live daemon (a real process): no core dumps, its secrets gone from its environment (also from
    /proc/<pid>/environ), owner-only files, keys masked in its DEBUG log."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from devkit.devnet.anvil import free_port
    from devkit.devnet.keeper import Keeper

    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=600 * 10**8)
    keeper.advance_to(chain.chain_time() + 1)
    db = tmp_path / "bot.db"
    db.touch(mode=0o644)  # an older database, world-readable
    os.chmod(db, 0o644)
    tree = yaml.safe_load(_config(tmp_path, "live.yaml", address=v2.market_address).read_text())
    tree["chains"]["dev"]["rpc_urls"] = [_keyed(free_port()), chain.url]
    tree["markets"][0]["topic"] = "t"
    tree["execution"] = {**tree.get("execution", {}), "max_clock_skew_seconds": 10**7}  # the test chain's clock stands still
    tree["allora"] = {"api_url": f"http://127.0.0.1:{free_port()}", "topics": [{"name": "t", "topic_id": 1}],
                      "signature": {"required": False}}
    (tmp_path / "live.yaml").write_text(yaml.safe_dump(tree))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLORA")}
    env.update(ALLORA_BOT_PRIVATE_KEY=KEY, ALLORA_API_KEY=API_KEY, PYTHONUNBUFFERED="1")
    chain.w3.provider.make_request("anvil_setBalance", [Account.from_key(KEY).address, hex(10**20)])
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(  # noqa: S603 — our own CLI
            [sys.executable, "main.py", "-c", str(tmp_path / "live.yaml"), "-vv", "run", "--live"],
            cwd=Path(__file__).resolve().parents[1], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while b"daemon running" not in log_path.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes()
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)  # right after start, while jobs run: the stop must not deadlock
        try:
            stopped = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            stopped = None
    assert stopped == 0, log_path.read_text()[-2000:]  # stopped cleanly on SIGTERM
    for secret in (KEY, API_KEY):
        assert secret.encode() not in environ  # removed, and zeroed in the process's environment block
    assert b"ALLORA_BOT_PRIVATE_KEY" not in environ or b"ALLORA_BOT_PRIVATE_KEY=\0" in environ
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"], core
    assert db.stat().st_mode & 0o777 == 0o600  # the old database restricted
    for file in tmp_path.glob("bot.db*"):
        assert file.stat().st_mode & 0o077 == 0, file  # WAL/SHM created owner-only
    _scan_rpc(tmp_path, [])
