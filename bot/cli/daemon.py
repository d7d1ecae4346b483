"""``run``: the daemon (paper by default; ``--live`` to trade).

Also the service plumbing around it: ``--logfile`` (rotated, redacted like the console), the activity lines (one per
decision and per settlement, shown at the default level), and systemd's notify protocol when ``$NOTIFY_SOCKET`` is
set (READY=1 once running, WATCHDOG=1 from the daemon's scheduler, STOPPING=1 on the way out).
"""

from __future__ import annotations

from typing import Any

import click

from bot.cli.common import Ctx, pass_ctx


def _service_hooks(runtime: Any) -> None:
    """READY=1 after the daemon started; a WATCHDOG=1 ping with every heartbeat and, when systemd set a watchdog,
    a ping job at half its period on the same scheduler (pings stop when the scheduler stops running jobs);
    STOPPING=1 when the stop begins. Through the daemon's and the runtime's hooks (nothing is monkey-patched)."""
    from bot import sdnotify

    daemon = runtime.daemon

    def started() -> None:
        interval = sdnotify.watchdog_interval()
        if interval is not None:
            daemon.scheduler.add_job(daemon._safe, "interval", args=[sdnotify.watchdog], seconds=max(interval, 0.2),
                                     id="sd-watchdog")
        sdnotify.ready(f"running on {', '.join(m.name for m in daemon.markets)}")
        sdnotify.watchdog()

    daemon.heartbeat_hooks.append(sdnotify.watchdog)
    daemon.started_hooks.append(started)
    runtime.stopping_hooks.append(sdnotify.stopping)


def _subscribers(app: Any, runtime: Any) -> Any:
    """The activity lines on the daemon's event bus, and the settlement feed (RoundSettled / Claimed from the
    journal); the notifiers the composition root built (``bot.app``: one set per daemon, Telegram's /claim runs the
    daemon's own claim job). Started by the caller."""
    from bot.coins import coins_of
    from bot.logs import attach_activity_log
    from bot.notify.settlements import SettlementFeed
    from bot.query import QueryService

    coins = coins_of(app.settings)
    attach_activity_log(runtime.daemon.bus, coins)
    feed = SettlementFeed(QueryService(app.engine, coins), runtime.daemon.bus, app.settings.mode).start()
    runtime.services.append(feed.close)
    return runtime.notifiers


def register(cli: click.Group) -> None:
    @cli.command("run")
    @click.option("--live", is_flag=True, help="Trade for real (needs a key; mainnet also needs risk.confirm_mainnet).")
    @click.option("--rounds", type=click.IntRange(min=1), default=None, help="Stop after this many new rounds.")
    @click.option("--logfile", type=click.Path(dir_okay=False, writable=True), default=None,
                  help="Also log to this file (rotated; secrets masked like on the console).")
    @click.option("--logfile-max-mb", type=click.FloatRange(min=0.001, max=10_000), default=10.0, show_default=True,
                  help="Rotate the log file at this size (MiB).")
    @click.option("--logfile-backups", type=click.IntRange(min=0, max=1000), default=5, show_default=True,
                  help="Rotated log files kept.")
    @pass_ctx
    def run(ctx: Ctx, live: bool, rounds: int | None, logfile: str | None, logfile_max_mb: float,
            logfile_backups: int) -> None:
        """Run the daemon until Ctrl-C / SIGTERM: poll Allora, bet before each lock, reconcile, claim."""
        from bot.app import build_runtime, startup_checks
        from bot.engine.runner import run_until_stopped
        from bot.logs import add_logfile, enable_activity
        from strategies.registry import check_strategy_config

        check_strategy_config(ctx.settings.strategy)
        if logfile is not None:
            add_logfile(logfile, max_bytes=int(logfile_max_mb * 2**20), backups=logfile_backups)
        enable_activity()
        from bot.app import build_app  # the whole stack loads when the daemon starts, not for every --help

        app = build_app(ctx.settings, live=live or ctx.settings.mode == "live")
        startup_checks(app.settings, app)  # right contract, right chain, funds, clock — before anything runs
        runtime = build_runtime(app)
        _service_hooks(runtime)
        notifiers = _subscribers(app, runtime)
        if app.settings.mode == "live":
            from bot.hardening import forget_secrets

            forget_secrets(app.settings)  # every secret is read by now: none stays in the environment
        click.echo(f"daemon running in {app.settings.mode} mode on {', '.join(app.markets)} (Ctrl-C to stop)", err=True)
        if runtime.api_url:
            click.echo(f"dashboard, API and /metrics: {runtime.api_url}", err=True)
        if getattr(runtime, "api_url", None):
            click.echo(f"dashboard, API and /metrics on {runtime.api_url}/", err=True)
        notifiers.start()
        try:
            run_until_stopped(runtime, max_rounds=rounds)
        finally:
            notifiers.close()
        click.echo("daemon stopped", err=True)
