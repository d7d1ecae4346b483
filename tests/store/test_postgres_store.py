"""PostgreSQL as the store, seen from the command line: a CLI command works on a postgresql+psycopg URL; a database
that cannot be reached, or a URL whose driver is not installed, is one line naming the database (password masked) and
exit 4 — never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-not-for-logs"


def _cli(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    tree = {
        "database_url": database_url,
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": ["http://127.0.0.1:9"], "request_timeout": 3}},
        "markets": [{"name": "m1", "chain": "dev", "dialect": "v2",
                     "address": "0x" + "12" * 20}],
        "risk": {"kill_switch_file": str(tmp_path / "KILL")},
    }
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(tree))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ALLORA_BOT")}, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "-c", str(cfg), *args], env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=tmp_path)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


def test_history_and_pnl_on_a_postgres_store(tmp_path, pg_url):
    done = _cli(tmp_path, pg_url, "history", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    done = _cli(tmp_path, pg_url, "pnl", "--json")
    assert done.returncode == 0, done.stderr


def test_an_unreachable_postgres_is_one_line_without_the_password(tmp_path):
    url = f"postgresql+psycopg://bot:{PASSWORD}@127.0.0.1:{_closed_port()}/bot"
    done = _cli(tmp_path, url, "history")
    assert done.returncode == 4, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the database postgresql+psycopg://***@127.0.0.1")
    assert PASSWORD not in done.stderr + done.stdout and "Traceback" not in done.stderr


def test_a_url_without_its_driver_names_the_extra(tmp_path):
    done = _cli(tmp_path, f"postgresql+pg8000://bot:{PASSWORD}@127.0.0.1:5432/bot", "history")
    assert done.returncode == 4, done.stderr
    assert "install the 'postgres' extra" in done.stderr and PASSWORD not in done.stderr
