"""The persistent devnet's state file (``<state dir>/state.json``): who runs it, where, and how far its start-up got.

Written atomically (a temporary file renamed over it) by the supervisor at each phase of its life: ``starting``,
``anvil``, ``deployed``, ``allora``, ``ready`` (everything runs; waiting for ``devnet up`` to let go), ``running``
(detached, kept until ``devnet down``), ``stopping``. Removed when the supervisor has stopped everything.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devkit.devnet.procs import pid_alive

DEFAULT_STATE_DIR = Path("data/devnet")
SUPERVISOR_MODULE = "devkit.devnet.supervisor"


@dataclass
class DevnetState:
    pid: int
    phase: str
    started_at: float
    anvil_url: str = ""
    allora_url: str = ""
    chain_id: int = 0
    market: str = ""
    oracle: str = ""
    dialect: str = ""
    interval: int = 0
    deploy_block: int = 0
    base_bar: int = 0
    bot_account: str = ""
    config: str = ""
    dashboard_url: str = ""  # where `run` with this config serves the dashboard (nothing listens until it runs)
    log: str = ""
    crowd: bool = True
    lines: list[str] = field(default_factory=list)  # one line per start-up phase, for the user

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def state_path(state_dir: Path) -> Path:
    return state_dir / "state.json"


def write_state(state_dir: Path, state: DevnetState) -> None:
    path = state_path(state_dir)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2, sort_keys=True))
    os.replace(tmp, path)


def read_state(state_dir: Path) -> DevnetState | None:
    """The state file, or None when there is none (or it is unreadable: a half-written file cannot happen)."""
    try:
        data = json.loads(state_path(state_dir).read_text())
        return DevnetState(**data)
    except (OSError, ValueError, TypeError):
        return None


def remove_state(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        state_path(state_dir).unlink()


def is_supervisor(pid: int) -> bool:
    """``pid`` is alive and is a devnet supervisor (not a recycled pid of another program)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True  # no /proc: trust the pid
    return SUPERVISOR_MODULE in cmdline


def live_state(state_dir: Path) -> DevnetState | None:
    """The state of a running supervisor; a stale file (its process gone) is removed and None returned."""
    state = read_state(state_dir)
    if state is None:
        return None
    if not is_supervisor(state.pid):
        remove_state(state_dir)
        return None
    return state
