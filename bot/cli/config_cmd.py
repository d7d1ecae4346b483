"""``config show`` and ``config check``."""

from __future__ import annotations

import click
import yaml

from bot.cli.common import Ctx, emit, json_option, pass_ctx
from bot.config import redacted


def register(cli: click.Group) -> None:
    @cli.group("config")
    def config_group() -> None:
        """Inspect the effective configuration."""

    @config_group.command("show")
    @json_option
    @pass_ctx
    def show(ctx: Ctx, as_json: bool) -> None:
        """Effective config (file + environment overrides), secrets redacted."""
        data = redacted(ctx.settings)
        emit(data, as_json, lambda: click.echo(yaml.safe_dump(data, sort_keys=False)))

    @config_group.command("check")
    @click.option("--online", is_flag=True, help="Also connect: chain ids, contracts answer their dialect's getters.")
    @json_option
    @pass_ctx
    def check(ctx: Ctx, online: bool, as_json: bool) -> None:
        """Validate the config (and with --online, the chains and contracts it names)."""
        from strategies.registry import check_strategy_config

        settings = ctx.settings
        check_strategy_config(settings.strategy)  # a typo in strategy.params is a config error, not a surprise at run
        report: dict[str, object] = {"valid": True, "markets": [m.name for m in settings.markets], "mode": settings.mode}
        if online:
            from bot.app import startup_checks

            report["checks"] = startup_checks(settings)
        emit(report, as_json, lambda: click.echo(f"config OK: {len(settings.markets)} market(s), mode {settings.mode}"))
