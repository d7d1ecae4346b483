"""``rounds export``: closed rounds of a market over RPC, paged with JSON-RPC batches, appended to a CSV, resumable.

The CSV is the backtest's RPC export format (``bot.backtest.rounds.load_rounds_export``): epoch, start_ts, lock_ts,
close_ts, lock_price, close_price, bull_wei, bear_wei, oracle_called, [ai_price,] price_decimals. Integers are plain
decimal digits of any size. A rerun continues after the last epoch in the file (a torn last line is dropped first).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.domain import Round
from bot.markets.base import PredictionMarket

COLUMNS = ("epoch", "start_ts", "lock_ts", "close_ts", "lock_price", "close_price", "bull_wei", "bear_wei",
           "oracle_called")


@dataclass
class ExportResult:
    path: Path
    first_epoch: int
    last_epoch: int
    written: int
    resumed_from: int


def _last_exported(path: Path) -> int:
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    text = path.read_text()
    if not text.endswith("\n"):  # interrupted mid-line: drop the torn row
        text = text[: text.rfind("\n") + 1]
        path.write_text(text)
    rows = list(csv.DictReader(text.splitlines()))
    return max((int(r["epoch"]) for r in rows if r.get("epoch")), default=0)


def _row(rnd: Round, decimals: int, ai: bool) -> list[str]:
    row = [str(v) for v in (rnd.epoch, rnd.start_timestamp, rnd.lock_timestamp, rnd.close_timestamp, rnd.lock_price,
                             rnd.close_price, rnd.bull_amount, rnd.bear_amount)]
    row.append("true" if rnd.oracle_called else "false")
    if ai:
        row.append(str(rnd.ai_price or 0))
    row.append(str(decimals))
    return row


def export_rounds(
    market: PredictionMarket,
    path: Path,
    *,
    start_epoch: int = 1,
    end_epoch: int | None = None,
    page: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Export closed rounds ``start_epoch..end_epoch`` (default: up to the last closed round) to ``path``."""
    if page <= 0:
        raise ValueError("page must be positive")
    ai = market.spec.ai_positions
    header = [*COLUMNS, *(["ai_price"] if ai else []), "price_decimals"]
    last = _last_exported(path)
    first = max(start_epoch, last + 1)
    current = market.current_epoch()
    end = min(end_epoch if end_epoch is not None else current - 2, current - 2)  # current-1 is locked, not closed
    path.parent.mkdir(parents=True, exist_ok=True)
    new_file = not path.is_file() or path.stat().st_size == 0
    written = 0
    total = max(0, end - first + 1)
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        if new_file:
            writer.writerow(header)
        for lo in range(first, end + 1, page):
            hi = min(end, lo + page - 1)
            for rnd in market.rounds(list(range(lo, hi + 1))):
                if rnd.started:
                    writer.writerow(_row(rnd, market.spec.price_decimals, ai))
                    written += 1
            fh.flush()  # each page is durable before the next is read: an interrupted export resumes here
            if progress:
                progress(hi - first + 1, total)
    return ExportResult(path, first, end, written, last)
