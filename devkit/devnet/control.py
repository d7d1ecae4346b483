"""``devnet up`` / ``down`` / ``status``: start the supervisor detached, stop it, say what runs.

``up`` refuses when a devnet already runs from this state dir (exit 6, like a second bet in a round) or when a port it
needs is taken (exit 4: a human must free it or pick another with the flags). It starts the supervisor in a session of
its own (Ctrl-C in the terminal later does not reach it) but tied to itself while it waits: if ``up`` gets SIGTERM or
SIGINT at any moment — or is killed — the supervisor and its anvil stop too. Once the supervisor reports ``ready``,
``up`` tells it to detach, waits for its ``running`` and returns.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.cli.common import EXIT, CliError
from devkit.devnet.anvil import REPO_ROOT
from devkit.devnet.procs import Stopped, die_with_parent, pid_alive
from devkit.devnet.state import SUPERVISOR_MODULE, DevnetState, live_state, read_state, remove_state

START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class UpOptions:
    state_dir: Path
    anvil_port: int
    allora_port: int
    interval: int
    crowd: bool = True
    api_port: int = 8787


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def up(opts: UpOptions, say: Callable[[str], None]) -> DevnetState:
    """Start the devnet and return its state once it runs detached; ``say`` hears one line per start-up phase."""
    running = live_state(opts.state_dir)
    if running is not None:
        raise CliError(f"devnet already up (pid {running.pid}, anvil {running.anvil_url}, config {running.config})",
                       EXIT["refused"])
    for name, port in (("anvil", opts.anvil_port), ("Allora service", opts.allora_port)):
        if port_taken(port):
            raise CliError(f"port {port} for the {name} is in use (another devnet or anvil?): free it or choose "
                           f"another with --{'anvil' if name == 'anvil' else 'allora'}-port", EXIT["operational"])
    opts.state_dir.mkdir(parents=True, exist_ok=True)
    for old in opts.state_dir.glob("bot.db*"):  # a fresh chain: bets of an earlier chain would mean other rounds
        old.unlink()
    cmd = [sys.executable, "-m", SUPERVISOR_MODULE, "--state-dir", str(opts.state_dir),
           "--anvil-port", str(opts.anvil_port), "--allora-port", str(opts.allora_port),
           "--interval", str(opts.interval), "--api-port", str(opts.api_port)] + ([] if opts.crowd else ["--no-crowd"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    with open(opts.state_dir / "devnet.log", "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own module, no shell
            cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),  # noqa: PLW1509 - async-signal-safe calls only
        )
    try:
        return _await_running(proc, opts, say)
    except BaseException:  # Stopped (SIGTERM/SIGINT), a failed start-up, anything: the supervisor goes too
        _stop_process(proc)
        raise


def _await_running(proc: subprocess.Popen[bytes], opts: UpOptions, say: Callable[[str], None]) -> DevnetState:
    said = 0
    deadline = time.monotonic() + START_TIMEOUT
    detached = False
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CliError(f"the devnet did not start (exit {proc.returncode}): {_log_tail(opts.state_dir)}",
                           EXIT["error"])
        state = read_state(opts.state_dir)
        if state is not None and state.pid == proc.pid:
            for line in state.lines[said:]:
                say(line)
            said = len(state.lines)
            if state.phase == "ready" and not detached:
                assert proc.stdin is not None  # noqa: S101 - we opened it
                proc.stdin.write(b"detach\n")
                proc.stdin.flush()
                detached = True
            if state.phase == "running":
                proc.stdin.close()  # type: ignore[union-attr]
                return state
        time.sleep(0.1)
    raise CliError(f"the devnet did not start within {START_TIMEOUT:.0f} s: {_log_tail(opts.state_dir)}",
                   EXIT["temporary"])


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _log_tail(state_dir: Path, lines: int = 3) -> str:
    try:
        text = (state_dir / "devnet.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(text[-lines:]) or "empty log"


def down(state_dir: Path) -> DevnetState | None:
    """Stop the supervisor (and so everything it runs); None when no devnet was up."""
    state = live_state(state_dir)
    if state is None:
        return None
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while pid_alive(state.pid):
        if time.monotonic() > deadline:  # stuck: kill it; anvil dies with it (parent-death signal)
            try:
                os.killpg(state.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline += 5
        time.sleep(0.1)
    remove_state(state_dir)
    return state


def status(state_dir: Path) -> dict[str, object]:
    """What runs: the supervisor, its endpoints, the chain's block and the market's current round."""
    state = live_state(state_dir)
    if state is None:
        return {"up": False, "state_dir": str(state_dir)}
    out: dict[str, object] = {"up": True, **state.to_json(), "uptime_s": round(time.time() - state.started_at)}
    out.pop("lines", None)
    if state.phase == "running":
        out.update(_chain_view(state))
    return out


def _chain_view(state: DevnetState) -> dict[str, object]:
    from web3 import Web3

    from devkit.devnet.deploy import load_abi

    try:
        w3 = Web3(Web3.HTTPProvider(state.anvil_url, request_kwargs={"timeout": 5}))
        market = w3.eth.contract(address=Web3.to_checksum_address(state.market), abi=load_abi("PancakePredictionV2"))
        return {"block": int(w3.eth.block_number), "current_epoch": int(market.functions.currentEpoch().call())}
    except Exception as exc:  # noqa: BLE001 - a status line, not a failure
        return {"chain_error": f"{type(exc).__name__}: {exc}"[:200]}


__all__ = ["Stopped", "UpOptions", "down", "status", "up"]
