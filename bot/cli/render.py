"""How the CLI shows things: amounts in the market's coin (``--wei`` for exact integers), tables that fit the terminal
(rich; ``COLUMNS`` is respected; a column that does not fit is left out before any value is cut), dates in UTC, and
the ``--help`` epilog with examples. Nothing here prints a raw Python structure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from bot.coins import Coin, format_units


def examples(*lines: str) -> str:
    """An epilog listing example command lines (kept verbatim by click: ``\\b`` stops re-wrapping)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def wei_option(fn: Any) -> Any:
    return click.option("--wei", "show_wei", is_flag=True,
                        help="Show amounts as exact integers in wei instead of the market's coin.")(fn)


@dataclass(frozen=True, slots=True)
class Money:
    """Formats amounts: exact coin text (``0.0125 BNB``) or, with ``--wei``, the integer and ``wei``."""

    show_wei: bool = False

    def __call__(self, wei: int | None, coin: Coin, *, unit: bool = True) -> str:
        if wei is None:
            return "-"
        if self.show_wei:
            return f"{wei} wei" if unit else str(wei)
        return coin.text(wei, symbol=unit)

    def unit(self, coin: Coin) -> str:
        return "wei" if self.show_wei else coin.symbol


def one_coin(coins: Sequence[Coin]) -> Coin | None:
    """The coin every row is in (its unit then goes in the column header), or ``None`` when they differ."""
    found = set(coins)
    return next(iter(found)) if len(found) == 1 else None


def coin_fields(wei_fields: dict[str, int], coin: Coin) -> dict[str, str]:
    """``{"stake_wei": 10**16}`` -> ``{"stake": "0.01"}``: the exact coin text next to each wei field in JSON."""
    return {key.removesuffix("_wei"): format_units(value, coin.decimals) for key, value in wei_fields.items()
            if isinstance(value, int) and not isinstance(value, bool)}


def when(ts: int | float | None) -> str:
    """UTC date and time to the minute (``2026-12-03 16:40``), ``-`` when unknown."""
    from bot.query import utc_time  # the store stack loads when a table is drawn, not for every --help

    text = utc_time(ts)
    return text if text == "-" else text[:16]


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    value: Callable[[Any], str]
    justify: str = "left"
    drop: int = 0  # 0: always shown; higher numbers are left out first when the table is too wide


def console_width() -> int:
    raw = os.environ.get("COLUMNS", "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100


def print_table(rows: Sequence[Any], columns: Sequence[Column], title: str | None = None,
                caption: str | None = None, empty: str = "nothing to show") -> None:
    """A table no wider than the terminal (``COLUMNS``): optional columns go first, then cells fold, never cut."""
    from rich.console import Console
    from rich.table import Table

    if not rows:
        click.echo(f"{title}: {empty}" if title else empty)
        return
    width = console_width()
    console = Console(width=width, highlight=False, soft_wrap=False)
    shown = list(columns)
    cells = [[col.value(row) for col in shown] for row in rows]

    def build(cols: list[Column]) -> Table:
        table = Table(title=title, caption=caption, title_justify="left", caption_justify="left", pad_edge=False,
                      expand=False)
        for col in cols:
            table.add_column(col.header, justify=col.justify, overflow="fold")  # type: ignore[arg-type]
        idx = [columns.index(c) for c in cols]
        for line in cells:
            table.add_row(*(line[i] for i in idx))
        return table

    table = build(shown)
    natural = console.options.update_width(10_000)  # the width the table wants, not the one it is given
    while console.measure(table, options=natural).maximum > width and any(c.drop for c in shown):
        worst = max(c.drop for c in shown)
        shown = [c for c in shown if c.drop != worst]
        table = build(shown)
    with console.capture() as capture:
        console.print(table)
    click.echo(capture.get().rstrip("\n"))


def print_pairs(pairs: Sequence[tuple[str, str]], title: str | None = None) -> None:
    """``label  value`` lines (a record shown vertically)."""
    if title:
        click.echo(title)
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        click.echo(f"  {key.ljust(width)}  {value}")
