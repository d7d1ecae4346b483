"""``topics list`` / ``topics show ID``: Allora topics as the chain describes them (through allora-sdk's emissions
query client at ``allora.rpc_url``), so a user can pick the topic whose horizon matches a market's round."""

from __future__ import annotations

from typing import Any

import click

from bot.cli.common import EXIT, CliError, Ctx, emit, json_option, pass_ctx
from bot.cli.render import examples

URL_HINT = ("give --rpc-url (e.g. rest+https://allora-api.mainnet.allora.network for Allora mainnet's public LCD) "
            "or set allora.rpc_url in the config")


def _source(ctx: Ctx, rpc_url: str | None, emissions: str | None) -> Any:
    from bot.allora.sources.chain import ChainSource

    allora = ctx.settings.allora
    updates: dict[str, Any] = {}
    if rpc_url:
        updates["rpc_url"] = rpc_url
    if emissions:
        updates["emissions_version"] = emissions
    config = allora.model_copy(update=updates)
    if not config.rpc_url:
        raise CliError(f"allora.rpc_url is not set: {URL_HINT}", EXIT["config"])
    if not config.rpc_url.startswith(("rest+http://", "rest+https://", "grpc+http://", "grpc+https://")):
        raise CliError("the Allora node URL must start with rest+http(s):// or grpc+http(s)://", EXIT["usage"])
    return ChainSource(config, timeout=config.request_timeout)


def _run(source: Any, coro: Any) -> Any:
    from bot.allora.reasons import RejectReason
    from bot.allora.sources.base import classify

    try:
        return source.run(coro)
    except Exception as exc:
        reason, status, detail = classify(exc)
        if reason is RejectReason.HTTP_404:
            raise
        code = EXIT["temporary"] if status is None or status >= 429 else EXIT["operational"]
        raise CliError(f"Allora node: {reason.value}: {detail}", code) from None
    finally:
        source.close()


def _configured(ctx: Ctx, topic_id: int) -> list[dict[str, Any]]:
    """The config's topics with this id and the markets that bet on them."""
    settings = ctx.settings
    return [
        {"name": t.name, "horizon_seconds": t.horizon_seconds, "kind": t.kind,
         "markets": [m.name for m in settings.markets if m.topic == t.name]}
        for t in settings.allora.topics if t.topic_id == topic_id
    ]


def _fmt_seconds(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def register(cli: click.Group) -> None:
    node = click.option("--rpc-url", default=None, help="Allora node (rest+https://... or grpc+https://...); "
                        "default allora.rpc_url.")
    version = click.option("--emissions", type=click.Choice(["v9", "v10"]), default=None,
                           help="Emissions API version (default allora.emissions_version).")

    @cli.group("topics", epilog=examples("allora-bot topics list", "allora-bot topics show 14"))
    def topics() -> None:
        """Allora topics read from the chain: id, metadata, epoch, ground-truth lag, loss method, active."""

    @topics.command("list", epilog=examples(
        "allora-bot topics list",
        "allora-bot topics list --json --rpc-url rest+http://127.0.0.1:8700"))
    @click.option("--active", "active_only", is_flag=True, help="Only topics the chain counts as active.")
    @node
    @version
    @json_option
    @pass_ctx
    def list_cmd(ctx: Ctx, active_only: bool, rpc_url: str | None, emissions: str | None, as_json: bool) -> None:
        """Every topic the node knows (ids 1 .. next_topic_id - 1). Epoch and lag in seconds use the block time
        measured over the last 1,000 blocks."""
        from bot.allora.catalog import read_catalog

        source = _source(ctx, rpc_url, emissions)
        catalog = _run(source, read_catalog(source, active_only=active_only))
        data = {"next_topic_id": catalog.next_topic_id, "seconds_per_block": catalog.seconds_per_block,
                "topics": [r.to_dict() for r in catalog.rows]}

        def table() -> None:
            spb = "?" if catalog.seconds_per_block is None else f"{catalog.seconds_per_block:.2f}"
            click.echo(f"{len(catalog.rows)} topics (block time {spb} s)")
            click.echo(f"{'id':>4}  {'active':<6}  {'epoch':>12}  {'gt lag':>12}  {'loss':<8}  metadata")
            for r in catalog.rows:
                i = r.info
                epoch = f"{i.epoch_length}b/{_fmt_seconds(r.epoch_seconds)}"
                lag = f"{i.ground_truth_lag}b/{_fmt_seconds(r.ground_truth_lag_seconds)}"
                click.echo(f"{i.topic_id:>4}  {'yes' if r.active else 'no':<6}  {epoch:>12}  {lag:>12}  "
                           f"{i.loss_method:<8}  {i.metadata}")

        emit(data, as_json, table)

    @topics.command("show", epilog=examples("allora-bot topics show 14", "allora-bot topics show 18 --json"))
    @click.argument("topic_id", type=click.IntRange(1, None))
    @node
    @version
    @json_option
    @pass_ctx
    def show_cmd(ctx: Ctx, topic_id: int, rpc_url: str | None, emissions: str | None, as_json: bool) -> None:
        """One topic, and how its epoch compares with the horizon of the config's topics that use this id."""
        from bot.allora.catalog import horizon_note, read_topic, seconds_per_block
        from bot.allora.reasons import RejectReason

        source = _source(ctx, rpc_url, emissions)

        async def read() -> Any:
            return await read_topic(source, topic_id, await seconds_per_block(source))

        try:
            row = _run(source, read())
        except Exception as exc:
            from bot.allora.sources.base import classify

            if classify(exc)[0] is RejectReason.HTTP_404:
                raise CliError(f"no topic {topic_id} on this Allora node (`topics list` shows the ids)") from None
            raise
        configured = _configured(ctx, topic_id)
        for entry in configured:
            entry["horizon"] = horizon_note(row, entry["horizon_seconds"])
        data = {**row.to_dict(), "seconds_per_block": row.seconds_per_block, "config": configured}

        def text() -> None:
            i = row.info
            click.echo(f"topic {i.topic_id}: {i.metadata}")
            click.echo(f"  active              {'yes' if row.active else 'no'}")
            click.echo(f"  epoch length        {i.epoch_length} blocks (~{_fmt_seconds(row.epoch_seconds)})")
            click.echo(f"  ground-truth lag    {i.ground_truth_lag} blocks (~{_fmt_seconds(row.ground_truth_lag_seconds)})")
            click.echo(f"  loss method         {i.loss_method}")
            click.echo(f"  type                {i.topic_type}, {i.output_arity}" + (
                f", labels {', '.join(i.labels)}" if i.labels else ""))
            click.echo(f"  allows negative     {'yes' if i.allow_negative else 'no'}")
            if not configured:
                click.echo("  config              not used by this config")
            for entry in configured:
                markets = ", ".join(entry["markets"]) or "no market"
                click.echo(f"  config              {entry['name']} ({entry['kind']}, horizon {entry['horizon_seconds']}s,"
                           f" {markets}): {entry['horizon']}")

        emit(data, as_json, text)
