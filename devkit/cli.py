"""The devkit's commands, added to the product's CLI by the repository's entry point (``main.py``); :func:`main` is that
CLI with them.

- ``demo``: everything on a local devnet for a few rounds, then a report (what ``make run`` runs).
- ``devnet up | down | status``: a devnet that stays up (fixed ports, the config ``config/devnet.yaml`` describes) so
  ``bet``, ``claim``, ``history``, ``pnl``, ``status`` and the daemon work by hand.

SIGTERM and SIGINT stop every process these commands started, at any moment of their start-up
(``devkit.devnet.procs``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click

from bot.cli.common import EXIT, emit, json_option

INTERRUPTED = 130  # what bot.cli.main returns for Ctrl-C


def register(cli: click.Group) -> None:
    _register_demo(cli)
    _register_devnet(cli)


def _register_demo(cli: click.Group) -> None:
    @cli.command("demo", epilog="Examples:\n\n\b\n  python main.py demo --rounds 8\n"
                                "  python main.py demo --plain --dialect v2.1")
    @click.option("--rounds", type=click.IntRange(min=2), default=20, show_default=True, help="Stop after N rounds.")
    @click.option("--interval", type=click.IntRange(min=6), default=10, show_default=True,
                  help="Round length in seconds (mainnet: 300).")
    @click.option("--workdir", type=click.Path(file_okay=False), default="data/demo", show_default=True,
                  help="Folder for the demo's database (emptied first).")
    @click.option("--plain", is_flag=True, help="Line-by-line output instead of the live table.")
    @click.option("--dialect", type=click.Choice(["v2", "v2.1"]), default="v2", show_default=True,
                  help="Our market's dialect: v2, or v2.1 (the BSC BTC/ETH layout, reconciled without logs).")
    @json_option
    def demo(rounds: int, interval: int, workdir: str, plain: bool, dialect: str, as_json: bool) -> None:
        """Local anvil devnet + our V2 market + keeper on real BTC prices + local Allora service + the daemon
        betting live, claiming and reconciling + the ground-truth service. Ctrl-C (or SIGTERM) stops cleanly."""
        from devkit.demo.run import print_report, run_demo
        from devkit.devnet.procs import stop_on_signals

        with stop_on_signals(), _interruptible():  # before the first child (anvil) starts
            report = run_demo(rounds=rounds, interval=interval, workdir=Path(workdir),
                              live_view=False if (plain or as_json) else None,
                              dialect="v2.1" if dialect == "v2.1" else "v2")
        emit(report, as_json, lambda: print_report(report))
        if not report["pnl"]["equal"]:
            raise click.exceptions.Exit(EXIT["error"])


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM/SIGINT during the command: one line and exit 130 (as ``bot.cli.main`` does for Ctrl-C), once every
    process the command started is stopped (the ``with`` blocks inside have unwound)."""
    from devkit.devnet.procs import Stopped

    try:
        yield
    except Stopped as stop:
        click.echo(f"interrupted ({stop}): stopped everything it had started", err=True)
        raise click.exceptions.Exit(INTERRUPTED) from None


def _state_dir_option(fn):  # type: ignore[no-untyped-def]
    return click.option("--state-dir", type=click.Path(file_okay=False), default="data/devnet", show_default=True,
                        help="Folder of the devnet's state file, log, config and database.")(fn)


def _register_devnet(cli: click.Group) -> None:
    from devkit.devnet.devconfig import DEFAULT_ALLORA_PORT, DEFAULT_ANVIL_PORT, DEFAULT_API_PORT, DEFAULT_INTERVAL

    @cli.group("devnet", epilog="Examples:\n\n\b\n  python main.py devnet up\n  . data/devnet/dev-account.env\n"
                                "  python main.py bet bull --market btc-devnet --amount 0.01 --live --yes\n"
                                "  python main.py devnet status\n  python main.py devnet down")
    def devnet() -> None:
        """A local devnet that stays up: anvil + our market + keeper + local Allora service."""

    @devnet.command("up", epilog="Examples:\n\n\b\n  python main.py devnet up\n"
                                 "  python main.py devnet up --anvil-port 9545 --allora-port 9700 --interval 20")
    @click.option("--anvil-port", type=click.IntRange(1, 65535), default=DEFAULT_ANVIL_PORT, show_default=True,
                  help="anvil's JSON-RPC port on 127.0.0.1.")
    @click.option("--allora-port", type=click.IntRange(1, 65535), default=DEFAULT_ALLORA_PORT, show_default=True,
                  help="The local Allora service's port on 127.0.0.1.")
    @click.option("--interval", type=click.IntRange(min=6), default=DEFAULT_INTERVAL, show_default=True,
                  help="Round length in seconds.")
    @click.option("--api-port", type=click.IntRange(0, 65535), default=DEFAULT_API_PORT, show_default=True,
                  help="Port the config gives the daemon's dashboard/API (`python main.py run` serves it).")
    @click.option("--no-crowd", is_flag=True, help="No simulated bettors (only your bets in the pools).")
    @_state_dir_option
    @json_option
    def up(anvil_port: int, allora_port: int, interval: int, api_port: int, no_crowd: bool, state_dir: str,
           as_json: bool) -> None:
        """Start the devnet in the background (until `devnet down`) and write its config. Already up: exit 6."""
        from devkit.devnet.control import UpOptions
        from devkit.devnet.control import up as start
        from devkit.devnet.procs import stop_on_signals

        opts = UpOptions(Path(state_dir), anvil_port, allora_port, interval, crowd=not no_crowd, api_port=api_port)
        with stop_on_signals(), _interruptible():
            state = start(opts, say=(lambda line: None) if as_json else lambda line: click.echo(f"devnet: {line}"))
        default = Path(state_dir) == Path("data/devnet") and (anvil_port, allora_port, interval, api_port) == (
            DEFAULT_ANVIL_PORT, DEFAULT_ALLORA_PORT, DEFAULT_INTERVAL, DEFAULT_API_PORT)
        emit(state.to_json(), as_json, lambda: click.echo(
            f"devnet up (pid {state.pid}); config {state.config}"
            + (" (what config/devnet.yaml says: the default)" if default else f" (use -c {state.config})")
            + f"\nlive bets: . {Path(state_dir) / 'dev-account.env'} (anvil's public dev account {state.bot_account})"
            + f"\ndashboard: python main.py run{'' if default else ' -c ' + state.config} (then {state.dashboard_url})"
            + "\nstop it with: python main.py devnet down"))

    @devnet.command("down", epilog="Example:\n\n\b\n  python main.py devnet down")
    @_state_dir_option
    @json_option
    def down(state_dir: str, as_json: bool) -> None:
        """Stop the devnet (anvil, keeper, Allora service). Not up: says so, exit 0."""
        from devkit.devnet.control import down as stop

        state = stop(Path(state_dir))
        emit({"stopped": state is not None, "pid": state.pid if state else None}, as_json,
             f"devnet down (pid {state.pid} stopped)" if state else "devnet is not up")

    @devnet.command("status", epilog="Example:\n\n\b\n  python main.py devnet status --json")
    @_state_dir_option
    @json_option
    def status(state_dir: str, as_json: bool) -> None:
        """Whether the devnet runs, its endpoints, config, block and current round."""
        from devkit.devnet.control import status as read

        out = read(Path(state_dir))
        emit(out, as_json, lambda: _show_status(out))


def _show_status(out: dict[str, object]) -> None:
    if not out["up"]:
        click.echo(f"devnet is not up ({out['state_dir']})")
        return
    click.echo(f"devnet {out['phase']} (pid {out['pid']}, up {out['uptime_s']} s): anvil {out['anvil_url']} chain "
               f"{out['chain_id']} block {out.get('block', '?')}; market {out['market']} round "
               f"{out.get('current_epoch', '?')} ({out['interval']} s rounds); Allora {out['allora_url']}; "
               f"crowd {'on' if out['crowd'] else 'off'}; config {out['config']}; log {out['log']}")


def main(argv: list[str] | None = None) -> int:
    """The product's CLI with the devkit's commands added (what ``main.py`` runs)."""
    from bot.cli import cli
    from bot.cli import main as product_main

    if "demo" not in cli.commands:
        register(cli)
    return product_main(argv)
