"""``download-data``, ``rounds export``, ``backtest`` and ``sweep``."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import click

from bot.cli.common import CliError, Ctx, emit, json_option, pass_ctx
from bot.cli.render import examples
from bot.coins import format_units
from bot.errors import BotError


def _param_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise CliError(f"--param expects key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        value = yaml.safe_load(raw)
        if isinstance(value, datetime.date):  # keep dates as the text the user wrote (ISO)
            value = raw.strip()
        out[key.strip()] = value
    return out


def _time_arg(text: str | None) -> int | str | None:
    """Unix milliseconds when all digits, else the ISO text."""
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text


def register(cli: click.Group) -> None:  # noqa: C901 — one nested function per command
    @cli.command("download-data", epilog=examples(
        "allora-bot download-data --since 2026-11-01",
        "allora-bot download-data --symbol ETH/USDT --timeframe 1m --since 2026-11-01 --until 2026-11-08"))
    @click.option("--exchange", default="binance", show_default=True, help="Any ccxt exchange id.")
    @click.option("--symbol", default="BTC/USDT", show_default=True, help="Market symbol on the exchange.")
    @click.option("--timeframe", default="5m", show_default=True, help="Candle length (1m, 5m, 1h, ...).")
    @click.option("--since", required=True, help="Start (ISO date or unix ms).")
    @click.option("--until", default=None, help="End, exclusive (default: now).")
    @click.option("--cache-dir", default="data/ohlcv", show_default=True, type=click.Path(file_okay=False),
                  help="Folder of the resumable candle cache.")
    @click.option("--api-url", default=None, help="Send the exchange's REST calls to this base URL (mirror/proxy).")
    @click.option("--retries", type=click.IntRange(0, 20), default=5, show_default=True,
                  help="Retries of a failed request (exponential backoff) before giving up with exit code 5.")
    @json_option
    def download_data(exchange: str, symbol: str, timeframe: str, since: str, until: str | None, cache_dir: str,
                      api_url: str | None, retries: int, as_json: bool) -> None:
        """Download candles over ccxt into a resumable on-disk cache (rate-limited, with a progress bar)."""
        import ccxt

        from bot.backtest.feeds import detect_gaps, download_ohlcv

        client = None
        if api_url:
            if not hasattr(ccxt, exchange):
                raise CliError(f"unknown ccxt exchange {exchange!r}")
            from bot.wire import guard_ccxt

            client = guard_ccxt(getattr(ccxt, exchange)({"enableRateLimit": True}))
            for key, url in list(client.urls["api"].items()):
                if isinstance(url, str) and "://" in url:
                    client.urls["api"][key] = api_url.rstrip("/") + "/" + url.split("://", 1)[1].split("/", 1)[-1]
        try:
            frame = download_ohlcv(exchange, symbol, timeframe, _time_arg(since) or since, _time_arg(until), cache_dir, progress=not as_json,
                                   exchange=client, max_retries=retries)
        except (ValueError, KeyError) as exc:
            if isinstance(exc, BotError):  # ours already carry their exit class (bad input 2, unreachable 5)
                raise
            raise CliError(str(exc)) from None
        gaps = detect_gaps(frame, timeframe)
        out = {"rows": len(frame), "first": str(frame.index[0]) if len(frame) else None,
               "last": str(frame.index[-1]) if len(frame) else None, "gaps": len(gaps), "cache_dir": cache_dir}
        emit(out, as_json, f"{out['rows']} candles {out['first']} .. {out['last']}, {out['gaps']} gap(s) "
                           f"(never interpolated) in {cache_dir}")

    @cli.group("rounds", epilog=examples(
        "allora-bot rounds export -m btc-devnet --out data/rounds.csv",
        "allora-bot rounds fit-pools --rounds-file data/rounds.csv"))
    def rounds() -> None:
        """Historical rounds."""

    @rounds.command("fit-pools", epilog=examples(
        "allora-bot rounds fit-pools --rounds-file data/rounds.csv",
        "allora-bot rounds fit-pools --rounds-file data/rounds.csv --per M --json"))
    @click.option("--rounds-file", required=True, type=click.Path(dir_okay=False), help="Real rounds (any loader).")
    @click.option("--per", type=click.Choice(["W", "M", "Q"]), default=None, help="Also fit each week/month/quarter.")
    @click.option("--fee-bp", type=click.IntRange(0, 10_000), default=300, show_default=True,
                  help="Treasury fee of the rounds, in basis points.")
    @json_option
    def fit_pools(rounds_file: str, per: str | None, fee_bp: int, as_json: bool) -> None:
        """Fit the pool model to real rounds and print the fit and its quality (use it: backtest --set
        pools_from=FILE)."""
        from bot.backtest.poolfit import fit_by_period, fit_report
        from bot.backtest.rounds import load_rounds_file

        real = load_rounds_file(rounds_file, fee_bp=fee_bp)
        fits = [fit_report(real)] + (fit_by_period(real, per) if per else [])
        emit([f.to_dict() for f in fits], as_json, "\n".join(f.describe() for f in fits))

    @rounds.command("export", epilog=examples(
        "allora-bot rounds export -m btc-devnet --out data/rounds.csv",
        "allora-bot rounds export --decision-pools --out data/decision_pools.csv"))
    @click.option("--market", "-m", default=None, help="Market name (required for the RPC export).")
    @click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="CSV file to write (resumed "
                                                                                              "if it exists).")
    @click.option("--from-epoch", type=click.IntRange(min=1), default=1, show_default=True, help="First round.")
    @click.option("--to-epoch", type=click.IntRange(min=1), default=None, help="Last round (default: the last closed).")
    @click.option("--page", type=click.IntRange(1, 5000), default=500, show_default=True,
                  help="Rounds read per batch of RPC calls.")
    @click.option("--decision-pools", is_flag=True,
                  help="Instead: the pools our daemon saw at decision time, from the journal (backtest --set "
                       "decision_pools=FILE).")
    @json_option
    @pass_ctx
    def export(ctx: Ctx, market: str | None, out_path: str, from_epoch: int, to_epoch: int | None, page: int,
               decision_pools: bool, as_json: bool) -> None:
        """Export closed rounds over RPC (paged, resumable: rerun to continue) for backtests."""
        if decision_pools:
            from bot.cli.records import query_service

            written = query_service(ctx).export_decision_pools(out_path, market)
            emit({"path": out_path, "written": written}, as_json,
                 f"wrote the decision-time pools of {written} journaled decision(s) to {out_path}")
            return
        if market is None:
            raise CliError("rounds export needs --market (or --decision-pools)")
        from bot.app import build_app
        from bot.cli.records import check_market
        from bot.markets.export import export_rounds

        check_market(ctx, market)
        app = build_app(ctx.settings, live=False)

        def progress(done: int, total: int) -> None:
            if not as_json:
                click.echo(f"\r{done}/{total} rounds", nl=False, err=True)

        result = export_rounds(app.market(market), Path(out_path), start_epoch=from_epoch, end_epoch=to_epoch,
                               page=page, progress=progress)
        out = {"path": str(result.path), "written": result.written, "first_epoch": result.first_epoch,
               "last_epoch": result.last_epoch, "resumed_after": result.resumed_from}
        emit(out, as_json, f"\nwrote {result.written} rounds to {result.path}")

    @cli.group("inferences", epilog=examples(
        "allora-bot inferences list --limit 20",
        "allora-bot inferences export --out data/inferences.csv"))
    def inferences_group() -> None:
        """The bot's inference log."""

    @inferences_group.command("list", epilog=examples("allora-bot inferences list", "allora-bot inferences list "
                                                      "--topic 14 --rejected --limit 100 --json"))
    @click.option("--topic", "topic", type=int, default=None, help="Only this topic id.")
    @click.option("--accepted", "verdict", flag_value="accepted", default=None, help="Only accepted inferences.")
    @click.option("--rejected", "verdict", flag_value="rejected", help="Only rejected fetches.")
    @click.option("--limit", type=click.IntRange(1, 100000), default=30, show_default=True,
                  help="At most this many, newest fetch first.")
    @json_option
    @pass_ctx
    def inferences_list(ctx: Ctx, topic: int | None, verdict: str | None, limit: int, as_json: bool) -> None:
        """The inference log, newest fetch first, each with its verdict (accepted, or why it was rejected)."""
        from bot.cli.records import query_service
        from bot.cli.render import Column, print_table, when
        from bot.query import to_plain

        rows = query_service(ctx).inferences(topic, None if verdict is None else verdict == "accepted", limit)
        emit(to_plain(rows), as_json, lambda: print_table(rows, [
            Column("fetched (UTC)", lambda r: when(r.fetched_at)),
            Column("topic", lambda r: f"{r.topic_id} {r.topic_name}"),
            Column("value", lambda r: r.value or "-", "right"),
            Column("verdict", lambda r: r.verdict),
            Column("inference time", lambda r: when(r.timestamp), drop=2),
            Column("source", lambda r: r.source, drop=3),
            Column("detail", lambda r: r.detail or "", drop=1),
        ], title="inference log"))

    @inferences_group.command("export", epilog=examples("allora-bot inferences export --out data/inferences.csv",
                                                        "allora-bot inferences export --out data/t14.csv --topic 14"))
    @click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
    @click.option("--topic", "topics", multiple=True, type=int, help="Only these topic ids.")
    @json_option
    @pass_ctx
    def inferences_export(ctx: Ctx, out_path: str, topics: tuple[int, ...], as_json: bool) -> None:
        """Write the inference log in the backtest's input format (each row usable from its fetch time; rejected
        rows kept but marked, and left out by the backtest; provenance allora or emulated)."""
        from bot.cli.records import query_service

        summary = query_service(ctx).export_inferences(ctx.settings, out_path, topics)
        out = {"path": str(summary.path), "rows": summary.written, "rejected": summary.rejected_skipped,
               "accepted_without_signal": summary.unconvertible, "provenance": summary.provenance}
        emit(out, as_json, f"wrote {summary.written} inference(s) ({summary.rejected_skipped} rejected, kept marked) "
                           f"to {summary.path}; signals: {summary.provenance}")

    @cli.command("sweep", epilog=examples(
        "allora-bot sweep -s edge --grid min_edge=0,0.01,0.02", "allora-bot sweep -s edge --grid min_edge=0,0.02 --walk-forward 2000:500",
        "allora-bot sweep -s edge --optuna 50 --range min_edge=0:0.05 --workers 2"))
    @click.option("--strategy", "-s", default=None, help="Built-in strategy name (default: the config's strategy).")
    @click.option("--grid", "grid", multiple=True, help="key=v1,v2,... (repeatable).")
    @click.option("--train-fraction", type=click.FloatRange(0.1, 0.95), default=0.7, show_default=True,
                  help="Share of the rounds to choose on (the rest scores out of sample).")
    @click.option("--walk-forward", "walk", default=None, metavar="TRAIN:TEST[:STEP]",
                  help="Rolling windows (in rounds): choose on TRAIN, score on the next TEST.")
    @click.option("--optuna", "trials", type=click.IntRange(1, 100_000), default=None,
                  help="An Optuna (TPE, seeded) search of this many trials over --range/--grid.")
    @click.option("--range", "ranges", multiple=True, help="key=low:high for --optuna (repeatable).")
    @click.option("--rank-by", default="sharpe_per_bet", show_default=True, help="The metric to choose by (train).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of the Optuna sampler.")
    @click.option("--workers", type=click.IntRange(1, 256), default=None,
                  help="Worker processes of a local Dask cluster (1 or unset: this process).")
    @click.option("--address", default=None, help="A Dask scheduler to fan out on (e.g. tcp://10.0.0.5:8786).")
    @click.option("--data", default=None, type=click.Path(dir_okay=False), help="Candles CSV (default: shipped slice).")
    @click.option("--rounds-file", default=None, type=click.Path(dir_okay=False),
                  help="Real rounds (ndjson) or a `rounds export` CSV instead of rounds built from candles.")
    @json_option
    @pass_ctx
    def sweep(ctx: Ctx, strategy: str | None, grid: tuple[str, ...], train_fraction: float, walk: str | None,
              trials: int | None, ranges: tuple[str, ...], rank_by: str, seed: int, workers: int | None,
              address: str | None, data: str | None, rounds_file: str | None, as_json: bool) -> None:
        """Parameter search with out-of-sample numbers (grid with a train/test split, walk-forward windows, or
        Optuna), on this process or a Dask cluster; the config's strategy parameters and risk limits are the base."""
        import yaml

        from bot.backtest.fanout import DaskEngine, LocalEngine
        from bot.backtest.runner import from_config, run_backtest
        from bot.backtest.sweep import optuna_search, run_sweep, walk_forward

        axes: dict[str, list[Any]] = {}
        for item in grid:
            if "=" not in item:
                raise CliError(f"--grid expects key=v1,v2,..., got {item!r}")
            key, values = item.split("=", 1)
            axes[key.strip()] = [yaml.safe_load(v) for v in values.split(",") if v.strip()]
        space: dict[str, Any] = dict(axes)
        for item in ranges:
            key, _, bounds = item.partition("=")
            low, _, high = bounds.partition(":")
            try:
                space[key.strip()] = (yaml.safe_load(low), yaml.safe_load(high))
            except yaml.YAMLError:
                raise CliError(f"--range expects key=low:high, got {item!r}") from None
        if not (axes or (trials and space)):
            raise CliError("give --grid key=v1,v2,... (or --optuna N with --range/--grid)")
        chosen, implied = from_config(ctx.settings, strategy=strategy)
        if chosen.file:
            raise CliError("sweep runs built-in strategies: pass --strategy")
        engine = DaskEngine(workers=workers, address=address) if address or (workers or 1) > 1 else LocalEngine()
        base = run_backtest(chosen, data=data, rounds_file=rounds_file, baselines=(), **implied)
        common: dict[str, Any] = {"config": base.settings.engine_config(), "base_params": chosen.params,
                                  "engine": engine}
        try:
            if trials:
                found = optuna_search(chosen.name, space, base.rounds, base.signals, n_trials=trials, seed=seed,
                                      train_fraction=train_fraction, rank_by=rank_by, **common)
                out = found.to_dict()
                emit(out, as_json, f"best {found.best_params}: train {rank_by} {found.train.get(rank_by)}, ROI "
                                   f"{found.train['roi']}; OUT OF SAMPLE ROI {(found.test or {}).get('roi')}")
                return
            if walk:
                sizes = [int(v) for v in walk.split(":")]
                if len(sizes) not in (2, 3):
                    raise CliError("--walk-forward expects TRAIN:TEST or TRAIN:TEST:STEP (rounds)")
                wf = walk_forward(chosen.name, axes, base.rounds, base.signals, train_rounds=sizes[0],
                                  test_rounds=sizes[1], step=sizes[2] if len(sizes) == 3 else None, rank_by=rank_by,
                                  **common)
                emit(wf.to_dict(), as_json, lambda: click.echo(
                    wf.table.to_string(max_rows=50) + f"\nout of sample (chained): ROI {wf.oos_roi}, PnL "
                    f"{format_units(int(wf.oos_pnl_wei), 18)} (coin units); the chosen points in sample: ROI {wf.in_sample_roi}"))
                return
        except ValueError as exc:
            raise CliError(str(exc)) from None
        table = run_sweep(chosen.name, axes, base.rounds, base.signals, train_fraction=train_fraction,
                          rank_by=f"train_{rank_by}", **common)
        rows = json.loads(table.to_json(orient="records"))
        emit(rows, as_json, lambda: click.echo(table.to_string(max_rows=50)))
