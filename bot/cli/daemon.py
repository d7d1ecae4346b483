"""``run``: the daemon (paper by default; ``--live`` to trade)."""

from __future__ import annotations

import click

from bot.app import build_app
from bot.cli.common import Ctx, pass_ctx


def register(cli: click.Group) -> None:
    @cli.command("run")
    @click.option("--live", is_flag=True, help="Trade for real (needs a key; mainnet also needs risk.confirm_mainnet).")
    @click.option("--rounds", type=click.IntRange(min=1), default=None, help="Stop after this many new rounds.")
    @pass_ctx
    def run(ctx: Ctx, live: bool, rounds: int | None) -> None:
        """Run the daemon until Ctrl-C / SIGTERM: poll Allora, bet before each lock, reconcile, claim."""
        from bot.app import startup_checks
        from bot.engine.runner import build_runtime, run_until_stopped
        from strategies.registry import check_strategy_config

        check_strategy_config(ctx.settings.strategy)
        app = build_app(ctx.settings, live=live or ctx.settings.mode == "live")
        startup_checks(app.settings, app)  # right contract, right chain, funds, clock — before anything runs
        runtime = build_runtime(app)
        if app.settings.mode == "live":
            from bot.hardening import forget_secrets

            forget_secrets(app.settings)  # every secret is read by now: none stays in the environment
        click.echo(f"daemon running in {app.settings.mode} mode on {', '.join(app.markets)} (Ctrl-C to stop)", err=True)
        run_until_stopped(runtime, max_rounds=rounds)
        click.echo("daemon stopped", err=True)
