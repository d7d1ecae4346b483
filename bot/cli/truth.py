"""``truth serve`` (ground truth + loss service for Allora reputers) and ``report accuracy``."""

from __future__ import annotations

import click

from bot.cli.common import Ctx, emit, json_option, pass_ctx
from bot.cli.render import examples


def register(cli: click.Group) -> None:
    @cli.group("truth", epilog=examples("allora-bot truth serve", "allora-bot truth serve --port 8000"))
    def truth() -> None:
        """Serve round outcomes as ground truth to Allora reputers."""

    @truth.command("serve", epilog=examples(
        "allora-bot truth serve",
        "allora-bot truth serve --host 127.0.0.1 --port 8000 -c config/devnet.yaml"))
    @click.option("--host", default=None, help="Bind address (default truth.host).")
    @click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default truth.port).")
    @pass_ctx
    def serve_cmd(ctx: Ctx, host: str | None, port: int | None) -> None:
        """GroundTruthEndpoint (/gt?block={BlockHeight}&topic={TopicId}&token={Token}), the labeled route, the
        loss service (POST /calculate, POST /is_never_negative) and /health. Prints one line with the URLs, logs
        every request. Ctrl-C stops it."""
        from bot.app import build_app
        from bot.truth.service import serve

        app = build_app(ctx.settings, live=False, connect_chains=False, need_key=False)  # the one database engine
        serve(ctx.settings, host=host, port=port, engine=app.engine)

    @cli.group("report", epilog=examples("allora-bot report accuracy", "allora-bot report accuracy --topic 14 --json"))
    def report() -> None:
        """Reports over the bot's records."""

    @report.command("accuracy", epilog=examples(
        "allora-bot report accuracy",
        "allora-bot report accuracy --topic 14 --json"))
    @click.option("--topic", "topics", multiple=True, type=int, help="Only these topic ids.")
    @json_option
    @pass_ctx
    def accuracy(ctx: Ctx, topics: tuple[int, ...], as_json: bool) -> None:
        """Directional hit rate of every logged inference against realised round outcomes, per topic and side,
        with a binomial p-value, a Wilson interval and the topic's loss."""
        from bot.cli.records import query_service

        result = query_service(ctx).accuracy(ctx.settings, topics)
        emit(result.to_dict(), as_json, lambda: click.echo(result.to_text()))
