"""``truth serve`` (ground truth + loss service for Allora reputers) and ``report accuracy``."""

from __future__ import annotations

import json

import click

from bot.cli.common import Ctx, emit, json_option, pass_ctx


def register(cli: click.Group) -> None:
    @cli.group("truth")
    def truth() -> None:
        """Serve round outcomes as ground truth to Allora reputers."""

    @truth.command("serve")
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

    @cli.group("report")
    def report() -> None:
        """Reports over the bot's records."""

    @report.command("accuracy")
    @click.option("--topic", "topics", multiple=True, type=int, help="Only these topic ids.")
    @json_option
    @pass_ctx
    def accuracy(ctx: Ctx, topics: tuple[int, ...], as_json: bool) -> None:
        """Directional hit rate of every logged inference against realised round outcomes, per topic and side,
        with a binomial p-value, a Wilson interval and the topic's loss."""
        from bot.allora.logexport import source_url
        from bot.store.db import make_engine, session_factory, session_scope
        from bot.truth.accuracy import load_inferences, load_rounds, round_topics_from_settings, score_accuracy

        settings = ctx.settings
        factory = session_factory(make_engine(settings.database_url))
        with session_scope(factory) as s:
            inferences = load_inferences(s, list(topics) or None, source_url=source_url(settings))
            rounds = load_rounds(s)
        result = score_accuracy(inferences, topics=settings.allora.topics, rounds=rounds,
                                round_topics=round_topics_from_settings(settings))
        data = result.to_dict()
        emit(data, as_json, lambda: click.echo(result.to_text() if hasattr(result, "to_text") else json.dumps(data)))
