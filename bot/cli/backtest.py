"""``backtest`` (run one), ``backtest show PATH`` (reopen a saved result) and ``list-strategies``.

A result is saved as ``report.json`` by ``backtest --plots DIR`` (with the PNG and HTML report), or as one JSON file by
``backtest --out FILE`` (the same document ``backtest --json`` prints); ``backtest show`` reads either (a file, or a
folder holding ``report.json``) and prints the same table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bot.cli.common import CliError, Ctx, emit, json_option
from bot.cli.render import examples, print_pairs

REPORT_KEYS = ("strategy", "metrics", "baselines", "fingerprint")


def _param_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    from bot.cli.data import _param_pairs as parse

    return parse(pairs)


def load_saved(path: str) -> dict[str, Any]:
    """A saved backtest result: ``report.json`` in a folder, or a JSON file; one-line ``CliError`` otherwise."""
    target = Path(path)
    if target.is_dir():
        target = target / "report.json"
    if not target.is_file():
        raise CliError(f"no saved backtest at {path} (expected a report.json from backtest --plots DIR, or a file "
                       "from backtest --out FILE)")
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CliError(f"{target} is not a saved backtest (not JSON: {str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or any(key not in data for key in REPORT_KEYS):
        raise CliError(f"{target} is not a saved backtest (it lacks {', '.join(REPORT_KEYS)})")
    return data


def show_saved(data: dict[str, Any]) -> None:
    """The saved result's table (strategy next to its baselines), notes and fingerprint."""
    from rich.console import Console

    from bot.backtest.report import figures_table
    from bot.cli.render import console_width

    cols: list[tuple[str, dict[str, Any]]] = [(str(data["strategy"]), data["metrics"]),
                                              *dict(data.get("baselines") or {}).items()]
    table = figures_table(
        f"backtest: {data['strategy']} — signals {data.get('signal_provenance', '?')} — pools "
        f"{data.get('pools_source', '?')}", cols,
        f"{data.get('basis', '')}; amounts in the coin's units; data {data.get('data_source', '?')}", fold=True)
    console = Console(width=console_width(), highlight=False)
    with console.capture() as capture:
        console.print(table)
    click.echo(capture.get().rstrip("\n"))
    for note in data.get("notes") or []:
        click.echo(f"• {note}")
    click.echo(f"fingerprint {data['fingerprint']}")


def register(cli: click.Group) -> None:  # noqa: C901 — one nested function per command
    @cli.group("backtest", invoke_without_command=True, epilog=examples(
        "allora-bot backtest", "allora-bot backtest -s edge --param min_edge=0.02 --plots out/edge",
        "allora-bot backtest --out out/edge.json --json", "allora-bot backtest show out/edge",
        "allora-bot backtest show out/edge.json"))
    @click.option("--strategy", "-s", default=None, help="Built-in strategy name (default: the config's strategy; "
                                                          "see list-strategies).")
    @click.option("--strategy-file", default=None, type=click.Path(dir_okay=False), help="Your own Strategy class.")
    @click.option("--class-name", default=None, help="The Strategy class in --strategy-file (if it holds several).")
    @click.option("--param", "params", multiple=True, help="Strategy parameter key=value (repeatable).")
    @click.option("--data", default=None, type=click.Path(dir_okay=False), help="Candles CSV (default: shipped slice).")
    @click.option("--rounds-file", default=None, type=click.Path(dir_okay=False),
                  help="Real rounds (ndjson) or a `rounds export` CSV instead of rounds built from candles.")
    @click.option("--inferences", default=None, type=click.Path(dir_okay=False),
                  help="Inference log export (time + p_up or predicted return); default: offline forecaster.")
    @click.option("--set", "overrides", multiple=True, help="Backtest setting key=value (fee_bp, bankroll_wei, ...).")
    @click.option("--plots", default=None, type=click.Path(file_okay=False),
                  help="Save report.json, PNG plots and an HTML report in this folder (reopen: backtest show DIR).")
    @click.option("--out", "out_file", default=None, type=click.Path(dir_okay=False),
                  help="Save the result as JSON in this file (reopen: backtest show FILE).")
    @click.option("--risk/--no-risk", "use_risk", default=True, show_default=True,
                  help="Apply the config's risk limits, as the daemon does.")
    @json_option
    @click.pass_context
    def backtest(click_ctx: click.Context, strategy: str | None, strategy_file: str | None, class_name: str | None,
                 params: tuple[str, ...], data: str | None, rounds_file: str | None, inferences: str | None,
                 overrides: tuple[str, ...], plots: str | None, out_file: str | None, use_risk: bool,
                 as_json: bool) -> None:
        """Backtest the config's strategy and risk limits (or --strategy/--param) with exact parimutuel settlement,
        next to the baselines; `backtest show PATH` reopens a saved result."""
        if click_ctx.invoked_subcommand is not None:
            return
        ctx = click_ctx.find_object(Ctx)
        assert ctx is not None  # noqa: S101 — the root command always sets it
        from bot.backtest.report import print_report, save_report, to_json
        from bot.backtest.runner import BacktestError, from_config, run_backtest
        from bot.config import StrategyConfig
        from strategies.base import StrategyError

        chosen: Any
        if strategy_file:
            chosen = StrategyConfig(name=strategy or "custom", file=strategy_file, class_name=class_name,
                                    params=_param_pairs(params))
            _, implied = from_config(ctx.settings, use_risk=use_risk)
        else:
            chosen, implied = from_config(ctx.settings, strategy=strategy, params=_param_pairs(params),
                                          use_risk=use_risk)
        try:
            result = run_backtest(chosen, data=data, rounds_file=rounds_file, inferences=inferences,
                                  **{**implied, **_param_pairs(overrides)})
        except (BacktestError, StrategyError, FileNotFoundError) as exc:
            raise CliError(str(exc)) from None
        except TypeError as exc:
            raise CliError(f"unknown backtest setting: {exc}") from None
        report = to_json(result)
        if plots:
            report["files"] = {k: str(v) for k, v in save_report(result, plots).items()}
        if out_file:
            target = Path(out_file)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        if as_json:
            click.echo(json.dumps(report, indent=2, default=str))
            return
        print_report(result)
        saved = [(kind, path) for kind, path in (report.get("files") or {}).items()]
        if out_file:
            saved.append(("json", out_file))
        if saved:
            print_pairs(saved, title="saved (reopen with: backtest show PATH)")

    @backtest.command("show", epilog=examples("allora-bot backtest show out/edge",
                                              "allora-bot backtest show out/edge/report.json --json"))
    @click.argument("path", type=click.Path())
    @json_option
    def show(path: str, as_json: bool) -> None:
        """Reopen a saved backtest result: a folder from --plots (its report.json) or a file from --out."""
        data = load_saved(path)
        emit(data, as_json, lambda: show_saved(data))

    @cli.command("list-strategies", epilog=examples("allora-bot list-strategies", "allora-bot list-strategies --json"))
    @json_option
    def list_strategies(as_json: bool) -> None:
        """The built-in strategies (names for --strategy and strategy.name) with a one-line description each."""
        rows = strategy_list()
        emit(rows, as_json, lambda: print_pairs([(r["name"], r["description"]) for r in rows]))


def strategy_list() -> list[dict[str, Any]]:
    """Name, one-line description and default parameters of every built-in strategy."""
    import inspect
    import re

    from strategies.registry import BUILTIN

    rows = []
    for name, cls in sorted(BUILTIN.items()):
        doc = cls.__dict__.get("__doc__") or inspect.getmodule(cls).__doc__ or ""  # type: ignore[union-attr]
        line = " ".join(doc.strip().split("\n\n")[0].split()).replace("``", "")
        line = line.removeprefix(f"{name}:").strip()
        first = re.split(r"(?<!i\.e)(?<!e\.g)\. (?=[A-Z])", line)[0].rstrip(".")
        rows.append({"name": name, "description": first[:1].upper() + first[1:], "class": cls.__name__})
    return rows
