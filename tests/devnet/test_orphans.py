"""Children stop with their parent: ``demo`` and ``devnet up`` run as processes get SIGTERM (or SIGKILL) at several
moments of their start-up — found by reading their own output or state file, never by sleeping — and afterwards no
process they started (anvil, the devnet supervisor) is left.

Without the signal handlers, the parent-death signal and the supervisor's tie to ``devnet up``, the SIGTERM and SIGKILL
cases leave anvil (and the supervisor) running: each case asserts on the processes found under the parent just before
the signal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from devkit.devnet.anvil import free_port

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

MAIN = str(Path(__file__).resolve().parents[2] / "main.py")
START_TIMEOUT = 180.0


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _assert_all_gone(procs: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(procs, timeout=30)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    left = [(p.pid, " ".join(p.cmdline())[:120]) for p in alive]
    for p in alive:  # do not leave them to the next test
        p.kill()
    assert not left, f"left running after the parent stopped: {left}"


def _read_until(proc: subprocess.Popen[str], marker: str) -> list[str]:
    """Lines of the process's stderr (its start-up progress) up to (and with) the first one containing ``marker``."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return seen
    proc.kill()
    raise AssertionError(f"{marker!r} never came: {''.join(seen)[-2000:]}")


@pytest.mark.parametrize(("marker", "sig"), [
    ("demo: anvil", signal.SIGTERM),
    ("demo: market", signal.SIGTERM),
    ("demo: daemon started", signal.SIGTERM),
    ("demo: market", signal.SIGKILL),
])
def test_demo_stopped_during_start_up_leaves_nothing(tmp_path: Path, marker: str, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, MAIN, "demo", "--rounds", "3", "--interval", "6", "--plain", "--workdir", str(tmp_path / "d")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _read_until(proc, marker)
    children = _descendants(proc.pid)
    assert any("anvil" in " ".join(c.cmdline()) for c in children), children  # there is something to leave behind
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    elif marker == "demo: daemon started":
        assert proc.returncode in (0, 130), err[-2000:]  # stops cleanly, with the report of what it did
    else:
        assert proc.returncode == 130 and "interrupted" in err, err[-2000:]
    _assert_all_gone(children)


def _state(state_dir: Path) -> dict[str, object]:
    try:
        return dict(json.loads((state_dir / "state.json").read_text()))
    except (OSError, ValueError):
        return {}


def _wait_phase(proc: subprocess.Popen[str], state_dir: Path, phase: str) -> None:
    order = ["starting", "anvil", "deployed", "allora", "ready", "running"]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        now = _state(state_dir).get("phase")
        if now in order and order.index(str(now)) >= order.index(phase):
            return
        if proc.poll() is not None:
            raise AssertionError(f"devnet up ended ({proc.returncode}) before {phase}: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"phase {phase} never came")


@pytest.mark.parametrize(("phase", "sig"), [
    ("anvil", signal.SIGTERM),
    ("deployed", signal.SIGTERM),
    ("allora", signal.SIGINT),
    ("anvil", signal.SIGKILL),
])
def test_devnet_up_stopped_during_start_up_leaves_nothing(tmp_path: Path, phase: str, sig: signal.Signals) -> None:
    state_dir = tmp_path / "devnet"
    proc = subprocess.Popen(
        [sys.executable, MAIN, "devnet", "up", "--state-dir", str(state_dir), "--anvil-port", str(free_port()),
         "--allora-port", str(free_port()), "--interval", "6"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_phase(proc, state_dir, phase)
    children = _descendants(proc.pid)
    names = " ".join(" ".join(c.cmdline()) for c in children)
    assert "devkit.devnet.supervisor" in names and "anvil" in names, names
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130)
    _assert_all_gone(children)
    if sig != signal.SIGKILL:
        assert not (state_dir / "state.json").exists()  # the supervisor cleaned up after itself


def test_devnet_supervisor_killed_takes_anvil_down(tmp_path: Path) -> None:
    """Once detached, the supervisor owns anvil: even SIGKILL of the supervisor leaves no anvil (parent-death signal);
    ``devnet status`` then says it is not up and clears the stale state file."""
    state_dir = tmp_path / "devnet"
    up = subprocess.run(
        [sys.executable, MAIN, "devnet", "up", "--state-dir", str(state_dir), "--anvil-port", str(free_port()),
         "--allora-port", str(free_port()), "--interval", "6", "--no-crowd", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=START_TIMEOUT,
    )
    assert up.returncode == 0, up.stderr[-2000:]
    pid = int(json.loads(up.stdout)["pid"])
    supervisor = psutil.Process(pid)
    children = _descendants(pid)
    assert any("anvil" in " ".join(c.cmdline()) for c in children)
    os.kill(pid, signal.SIGKILL)
    _assert_all_gone([supervisor, *children])
    status = subprocess.run([sys.executable, MAIN, "devnet", "status", "--state-dir", str(state_dir)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "not up" in status.stdout
    assert not (state_dir / "state.json").exists()
