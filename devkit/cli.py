"""The devkit's commands (``demo``: everything on a local devnet, what ``make run`` runs), added to the product's CLI by
the repository's entry point (``main.py``); :func:`main` is that CLI with them.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import EXIT, emit, json_option


def register(cli: click.Group) -> None:
    @cli.command("demo")
    @click.option("--rounds", type=click.IntRange(min=2), default=20, show_default=True, help="Stop after N rounds.")
    @click.option("--interval", type=click.IntRange(min=6), default=10, show_default=True,
                  help="Round length in seconds (mainnet: 300).")
    @click.option("--workdir", type=click.Path(file_okay=False), default="data/demo", show_default=True)
    @click.option("--plain", is_flag=True, help="Line-by-line output instead of the live table.")
    @click.option("--dialect", type=click.Choice(["v2", "v2.1"]), default="v2", show_default=True,
                  help="Our market's dialect: v2, or v2.1 (the BSC BTC/ETH layout, reconciled without logs).")
    @json_option
    def demo(rounds: int, interval: int, workdir: str, plain: bool, dialect: str, as_json: bool) -> None:
        """Local anvil devnet + our V2 market + keeper on real BTC prices + local Allora service + the daemon
        betting live, claiming and reconciling + the ground-truth service. Ctrl-C stops cleanly."""
        from devkit.demo.run import print_report, run_demo

        report = run_demo(rounds=rounds, interval=interval, workdir=Path(workdir),
                          live_view=False if (plain or as_json) else None,
                          dialect="v2.1" if dialect == "v2.1" else "v2")
        emit(report, as_json, lambda: print_report(report))
        if not report["pnl"]["equal"]:
            raise click.exceptions.Exit(EXIT["error"])


def main(argv: list[str] | None = None) -> int:
    """The product's CLI with the devkit's commands added (what ``main.py`` runs)."""
    from bot.cli import cli
    from bot.cli import main as product_main

    if "demo" not in cli.commands:
        register(cli)
    return product_main(argv)
