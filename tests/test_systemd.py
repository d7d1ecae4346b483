"""The service unit and the notify protocol: ``systemd-analyze verify`` accepts deploy/systemd/allora-bot.service
(when systemd-analyze is installed), and a real daemon process tells a real unix datagram socket READY=1, keeps
sending WATCHDOG=1 while it runs, and STOPPING=1 before it exits 0 on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "systemd" / "allora-bot.service"


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_unit_declares_notify_watchdog_restart_and_secrets_file():
    d = _directives(UNIT.read_text())
    assert d["Type"] == ["notify"] and int(d["WatchdogSec"][0]) > 30  # the heartbeat pings at least every 30 s
    assert d["Restart"] == ["on-failure"] and d["EnvironmentFile"][0].startswith("/etc/")
    assert "run --live --logfile" in d["ExecStart"][0]
    for hardening in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "RestrictAddressFamilies"):
        assert hardening in d, hardening
    assert not any("PRIVATE_KEY" in key or "TOKEN" in key for key in d)  # no secret inline


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path):
    text = UNIT.read_text().replace("/opt/allora-bot/.venv/bin/python", sys.executable)
    text = text.replace("/opt/allora-bot/main.py", str(ROOT / "main.py"))
    unit = tmp_path / "allora-bot.service"
    unit.write_text(text)
    ok = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)  # noqa: S603, S607
    assert ok.returncode == 0, ok.stderr
    broken = tmp_path / "broken" / "allora-bot.service"
    broken.parent.mkdir()
    broken.write_text(text.replace("Type=notify", "Type=notifyy").replace("WatchdogSec=120", "WatchdogSec=soon"))
    bad = subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60)  # noqa: S603, S607
    assert bad.returncode != 0 or "notifyy" in bad.stderr  # the checker does read what we wrote


@pytest.mark.anvil
def test_daemon_speaks_sd_notify(tmp_path, chain, v2):
    from devkit.devnet.anvil import free_port
    from devkit.devnet.keeper import Keeper

    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=600 * 10**8)
    keeper.advance_to(chain.chain_time() + 1)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": [chain.url]}},
        "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": v2.market_address, "topic": "t"}],
        "allora": {"api_url": f"http://127.0.0.1:{free_port()}", "topics": [{"name": "t", "topic_id": 1}],
                   "signature": {"required": False}},
        "execution": {"max_clock_skew_seconds": 10**7},  # the session chain's clock stands still between tests
        "risk": {"kill_switch_file": str(tmp_path / "KILL")},
    }))
    short = Path(tempfile.mkdtemp(prefix="sdn", dir="/tmp"))  # AF_UNIX paths are limited to 107 bytes
    sock_path = short / "notify"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(sock_path))
    server.settimeout(1.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALLORA", "NOTIFY_", "WATCHDOG_"))}
    env.update(NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="1000000", PYTHONUNBUFFERED="1")
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "main.py", "-c", str(cfg), "run"], cwd=ROOT, env=env,  # noqa: S603
                                stdout=out, stderr=subprocess.STDOUT)
    messages: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while sum(m == "WATCHDOG=1" for m in messages) < 4:
            assert proc.poll() is None and time.monotonic() < deadline, (messages, log_path.read_text()[-2000:])
            try:
                messages.append(server.recv(4096).decode())
            except TimeoutError:
                continue
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in messages and time.monotonic() < deadline:
            try:
                messages.append(server.recv(4096).decode())
            except TimeoutError:
                assert proc.poll() is None or "STOPPING=1" in messages, messages
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        server.close()
        shutil.rmtree(short, ignore_errors=True)
    assert code == 0, log_path.read_text()[-2000:]
    ready = next(i for i, m in enumerate(messages) if m.startswith("READY=1"))
    assert "STATUS=running on m1" in messages[ready]
    assert sum(m == "WATCHDOG=1" for m in messages[ready:]) >= 4  # pings go on while it runs (1 s watchdog)
    assert messages.index("STOPPING=1") > ready
