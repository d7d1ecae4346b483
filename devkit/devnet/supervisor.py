"""The persistent devnet's supervisor: ``python -m devkit.devnet.supervisor`` (started by ``devnet up``, never by hand).

One process holds the devnet: anvil (a child), our V2 market deployed on it, the keeper, a crowd of other bettors and
the local Allora service (threads) — the demo's scenery (``devkit.demo.world``) with a keeper that runs until stopped.
It writes each phase of its start-up to the state file (``devkit.devnet.state``) and the bot's config for this devnet
(``devkit.devnet.devconfig``), then waits for ``devnet up`` to let go.

Lifetime rules:
- started by ``devnet up`` with ``die_with_parent(SIGTERM)``: while ``devnet up`` waits, its death (any signal, even
  SIGKILL) stops the supervisor; so does the end of its stdin (the pipe from ``devnet up``) before ``detach``.
- on ``detach`` (one line on stdin, once ready) it clears that link in its main thread and runs on by itself until
  SIGTERM/SIGINT (``devnet down``), then stops the keeper, the crowd, the Allora service and anvil, and removes the
  state file. anvil dies with it even on SIGKILL (``AnvilNode`` starts it with ``die_with_parent``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from devkit.devnet.procs import Stopped, keep_after_parent, stop_on_signals
from devkit.devnet.state import DevnetState, remove_state, write_state

if TYPE_CHECKING:
    from devkit.demo.world import World

log = logging.getLogger("devkit.devnet")
DETACH = "detach"


def _watch_stdin(detach: threading.Event) -> None:
    """``detach`` from ``devnet up`` lets the supervisor outlive it; EOF before it means ``devnet up`` died: stop."""
    line = sys.stdin.readline()
    if line.strip() == DETACH:
        detach.set()
        return
    os.kill(os.getpid(), signal.SIGTERM)


def serve(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    with stop_on_signals() as received:  # before the first child starts
        state = DevnetState(pid=os.getpid(), phase="starting", started_at=time.time(), interval=args.interval,
                            crowd=not args.no_crowd, log=str(state_dir / "devnet.log"))
        write_state(state_dir, state)
        detach = threading.Event()
        threading.Thread(target=_watch_stdin, args=(detach,), name="stdin", daemon=True).start()
        try:
            with ExitStack() as stack:
                stack.callback(remove_state, state_dir)
                world = _start(stack, state, state_dir, args)
                while not detach.wait(0.2):
                    pass
                keep_after_parent()  # main thread: the kernel keeps the parent-death signal per thread
                state.phase = "running"
                write_state(state_dir, state)
                log.info("detached: running until `devnet down` (SIGTERM to pid %d)", state.pid)
                _run(world)
                return 0
        except Stopped as stop:
            log.info("stopped by %s: everything stopped", stop)
            return 0
        finally:
            if received:
                log.info("signals received: %s", ", ".join(signal.Signals(s).name for s in received))


def _start(stack: ExitStack, state: DevnetState, state_dir: Path, args: argparse.Namespace) -> World:
    from devkit.demo.world import build_world, start
    from devkit.devnet.devconfig import devnet_config, write_devnet_config

    def phase(name: str, line: str) -> None:
        state.phase = name
        state.lines.append(line)
        log.info("%s: %s", name, line)
        write_state(state_dir, state)

    world = build_world(stack, interval=args.interval, rounds=None, anvil_port=args.anvil_port,
                        allora_port=args.allora_port, crowd=not args.no_crowd, on_phase=phase)
    state.anvil_url, state.allora_url = world.node.url, world.allora_url
    state.chain_id = world.node.chain_id
    state.market = str(world.deployment.market_address)
    state.oracle = str(world.deployment.oracle_address or "")
    state.dialect, state.deploy_block = world.deployment.dialect, world.deployment.block_number
    state.base_bar, state.bot_account = world.base_bar, world.bot_address
    config = state_dir / "config.yaml"
    write_devnet_config(config, devnet_config(anvil_url=world.node.url, allora_url=world.allora_url,
                                              market=state.market, interval=args.interval, state_dir=state_dir,
                                              api_port=args.api_port))
    state.dashboard_url = f"http://127.0.0.1:{args.api_port}/"
    state.config = str(config)
    env_file = state_dir / "dev-account.env"
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:  # anvil's public dev key #5: worthless anywhere but on this devnet
        fh.write(f"# anvil's well-known dev account 5 ({state.bot_account}), funded on this devnet only\n"
                 f"export ALLORA_BOT_PRIVATE_KEY={world.bot_key}\n")
    start(world)
    phase("ready", f"keeper running, crowd {'on' if state.crowd else 'off'}; config {config}")
    stack.callback(world.stop.set)
    stack.callback(_mark, state_dir, state, "stopping")  # runs first when the stack unwinds
    return world


def _mark(state_dir: Path, state: DevnetState, phase: str) -> None:
    state.phase = phase
    write_state(state_dir, state)


def _run(world: World) -> None:
    """Until a signal: stop the whole devnet if anvil dies under it."""
    while True:
        time.sleep(1.0)
        if not world.node.running:
            log.error("anvil exited: stopping the devnet")
            raise SystemExit(1)


def main(argv: list[str] | None = None) -> int:
    from devkit.devnet.devconfig import DEFAULT_ALLORA_PORT, DEFAULT_ANVIL_PORT, DEFAULT_API_PORT, DEFAULT_INTERVAL

    parser = argparse.ArgumentParser(prog="python -m devkit.devnet.supervisor")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--anvil-port", type=int, default=DEFAULT_ANVIL_PORT)
    parser.add_argument("--allora-port", type=int, default=DEFAULT_ALLORA_PORT)
    parser.add_argument("--interval", type=int, default=DEFAULT_INTERVAL)
    parser.add_argument("--api-port", type=int, default=DEFAULT_API_PORT)
    parser.add_argument("--no-crowd", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("web3").setLevel(logging.WARNING)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
