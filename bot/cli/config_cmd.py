"""``config show`` and ``config check``."""

from __future__ import annotations

import click
import yaml

from bot.cli.common import Ctx, emit, json_option, pass_ctx
from bot.cli.render import examples
from bot.config import ConfigError, redacted


def register(cli: click.Group) -> None:
    @cli.group("config", epilog=examples("allora-bot config show", "allora-bot config check --online"))
    def config_group() -> None:
        """Inspect the effective configuration."""

    @config_group.command("show", epilog=examples(
        "allora-bot config show",
        "allora-bot config show --json -c config/bsc.yaml"))
    @json_option
    @pass_ctx
    def show(ctx: Ctx, as_json: bool) -> None:
        """Effective config (file + environment overrides), secrets redacted."""
        data = redacted(ctx.settings)
        emit(data, as_json, lambda: click.echo(yaml.safe_dump(data, sort_keys=False)))

    @config_group.command("check", epilog=examples(
        "allora-bot config check",
        "allora-bot config check --online --json"))
    @click.option("--online", is_flag=True, help="Also connect: chain ids, contracts answer their dialect's getters.")
    @json_option
    @pass_ctx
    def check(ctx: Ctx, online: bool, as_json: bool) -> None:
        """Validate the config (and with --online, the chains and contracts it names)."""
        from strategies.registry import check_strategy_config

        settings = ctx.settings
        check_strategy_config(settings.strategy)  # a typo in strategy.params is a config error, not a surprise at run
        from bot.allora.trust import describe, never_bets

        blockers = never_bets(settings)  # a valid config that can never bet is not OK: say why, and the fix
        report: dict[str, object] = {"valid": True, "markets": [m.name for m in settings.markets], "mode": settings.mode,
                                     "can_bet": not blockers, "never_bets": [b.line() for b in blockers],
                                     "inference_trust": describe(settings)}
        if online and not blockers:
            from bot.app import startup_checks

            report["checks"] = startup_checks(settings)

        def human() -> None:
            for name, line in describe(settings).items():
                click.echo(f"topic {name}: {line}")
            for blocker in blockers:
                click.echo(blocker.line())
            if not blockers:
                click.echo(f"config OK: {len(settings.markets)} market(s), mode {settings.mode}")

        emit(report, as_json, human)
        if blockers:
            more = f" (and {len(blockers) - 1} more market(s))" if len(blockers) > 1 else ""
            raise ConfigError(blockers[0].line() + more)
