"""Backtest reports: a rich terminal table, a JSON dict, PNG plots and a self-contained HTML page.

The strategy's figures sit next to the baselines' (``bot.backtest.baselines``: always-bull, always-bear, crowd,
contrarian and the coin flip's expectation over many seeds), all on the same rounds and stop rule. Every output says
whether and where a run was ruined, which pools it used, and the signal's provenance (``bot.allora.logexport``
labels: ``allora (logged live)``, ``emulated (not Allora)``, ``offline:<name> (not Allora)``, ``user file
(unverified)``).
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bot.backtest.market import REFUND, WON
from bot.backtest.metrics import METRIC_BASIS, WEI_PER_ETHER

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from bot.backtest.engine import EngineResult
    from bot.backtest.runner import BacktestResult


def _ether(v: Any) -> str:
    return "—" if v is None else f"{v / WEI_PER_ETHER:,.4f}"


def _pct(v: Any) -> str:
    return "—" if v is None else f"{100 * v:.2f} %"


def _num(v: Any) -> str:
    return "—" if v is None else f"{v:,.3f}"


def _int(v: Any) -> str:
    return "—" if v is None else f"{v:,}"


def _p(v: Any) -> str:
    return "—" if v is None else f"{v:.3g}"


def _ruin(m: dict[str, Any]) -> str:
    if m.get("expectation"):
        share = m.get("ruined_share")
        return "—" if share is None else f"{100 * share:.1f} % of seeds"
    if not m.get("ruined"):
        return "no"
    return f"RUINED at epoch {m['ruined_at_epoch']} (round {m['rounds_played'] + 1})"


def _spread(key: str, fmt: Callable[[Any], str]) -> Callable[[dict[str, Any]], str]:
    def show(m: dict[str, Any]) -> str:
        s = (m.get("spread") or {}).get(key)
        if not s or s.get("p05") is None:
            return ""
        return f"{fmt(s['p05'])} .. {fmt(s['p95'])}"

    return show


# (label, metric key, formatter)
ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("rounds", "rounds", _int),
    ("bets", "bets", _int),
    ("hit rate", "hit_rate", _pct),
    ("  p-value vs 50 %", "hit_rate_pvalue", _p),
    ("bull bets", "bull_bets", _int),
    ("  bull hit rate", "bull_hit_rate", _pct),
    ("  p-value", "bull_pvalue", _p),
    ("bear bets", "bear_bets", _int),
    ("  bear hit rate", "bear_hit_rate", _pct),
    ("  p-value", "bear_pvalue", _p),
    ("draws (house)", "house", _int),
    ("refunds", "refunds", _int),
    ("staked", "staked_wei", _ether),
    ("PnL", "pnl_wei", _ether),
    ("ROI", "roi", _pct),
    ("profit factor", "profit_factor", _num),
    ("expectancy / bet", "expectancy_wei", _ether),
    ("max drawdown", "max_drawdown_wei", _ether),
    ("  of peak equity", "max_drawdown_pct", _pct),
    ("  longest underwater (rounds)", "max_drawdown_duration_rounds", _int),
    ("Sharpe / bet", "sharpe_per_bet", _num),
    ("Sortino / bet", "sortino_per_bet", _num),
    ("longest losing streak", "longest_losing_streak", _int),
    ("fees (our share)", "fees_wei", _ether),
    ("gas", "gas_wei", _ether),
    ("final bankroll", "final_bankroll_wei", _ether),
)
# rows computed from the whole metrics dict: ruin first (it changes how every other figure reads), then the coin
# flip's spread over its seeds
WHOLE_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("ruined", _ruin),
    ("  ROI, 5-95 % of seeds", _spread("roi", _pct)),
    ("  PnL, 5-95 % of seeds", _spread("pnl_wei", _ether)),
    ("  hit rate, 5-95 % of seeds", _spread("hit_rate", _pct)),
)


def _cells(m: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of every table row for one column, in order."""
    out = [(label, fn(m)) for label, fn in WHOLE_ROWS[:1]]
    out += [(label, fmt(m.get(key))) for label, key, fmt in ROWS]
    out += [(label, fn(m)) for label, fn in WHOLE_ROWS[1:]]
    return out


def column_name(name: str, m: dict[str, Any]) -> str:
    return f"{name} (mean of {m['seeds']} seeds)" if m.get("expectation") else name


def signal_label(result: BacktestResult) -> str:
    """The signal's provenance as the report says it (``bot.allora.logexport`` labels)."""
    return result.signal_provenance


def _columns(result: BacktestResult) -> list[tuple[str, dict[str, Any]]]:
    return [(result.strategy, result.metrics), *result.baselines.items()]


def metrics_table(result: BacktestResult) -> Table:
    """The figures of the strategy and its baselines side by side (amounts in ether units of the market's coin)."""
    return figures_table(f"backtest: {result.strategy} — signals {signal_label(result)} — pools {result.pools_source}",
                         _columns(result), f"{METRIC_BASIS}; amounts in ether units; data {result.data_source}")


def figures_table(title: str, cols: list[tuple[str, dict[str, Any]]], caption: str, fold: bool = False) -> Table:
    """One table of metrics, a column per strategy or baseline (``cols``: name, metrics); a live result and a saved
    one (``backtest show``) are drawn by this one function. ``fold``: wrap long cells instead of cutting them."""
    from rich.table import Table

    overflow: Literal["fold", "ellipsis"] = "fold" if fold else "ellipsis"
    table = Table(title=title, title_justify="left")
    table.add_column("metric", overflow=overflow)
    for name, m in cols:
        table.add_column(column_name(name, m), justify="right", overflow=overflow)
    cells = [_cells(m) for _, m in cols]
    for i, (label, _) in enumerate(cells[0]):
        texts = [c[i][1] for c in cells]
        if label.startswith("  ") and not any(texts) and "seeds" in label:
            continue
        table.add_row(label, *texts)
    table.caption = caption
    return table


def print_report(result: BacktestResult, console: Console | None = None) -> None:
    from rich.console import Console

    con = console or Console()
    con.print(metrics_table(result))
    for note in result.notes:
        con.print(f"[bold red]• {note}[/bold red]" if note.startswith("RUINED") else f"[dim]• {note}[/dim]")
    for gap in result.gaps[:10]:
        con.print(f"[yellow]gap:[/yellow] {gap.describe()}")
    if len(result.gaps) > 10:
        con.print(f"[yellow]… and {len(result.gaps) - 10} more gaps[/yellow]")
    con.print(f"fingerprint {result.fingerprint}")


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def to_json(result: BacktestResult) -> dict[str, Any]:
    """Everything a caller needs as plain JSON types (wei amounts as exact ints, non-finite floats as null)."""
    from bot.backtest.runner import settings_dict

    reasons = result.run.decisions["reason"].value_counts()
    return _clean(
        {
            "strategy": result.strategy,
            "strategy_params": result.strategy_params,
            "signal_source": result.signal_source,
            "signal_is_allora": result.signal_is_allora,
            "signal_provenance": result.signal_provenance,
            "pools_source": result.pools_source,
            "pools": result.pools,
            "ruined": bool(result.metrics["ruined"]),
            "ruined_at_epoch": result.metrics["ruined_at_epoch"],
            "data_source": result.data_source,
            "rounds_source": result.rounds.attrs.get("source"),
            "metrics": result.metrics,
            "baselines": result.baselines,
            "decision_reasons": {str(k): int(v) for k, v in reasons.items() if int(v)},
            "fingerprint": result.fingerprint,
            "gaps": [
                {"after_ms": g.after_ms, "before_ms": g.before_ms, "missing_bars": g.missing_bars} for g in result.gaps
            ],
            "notes": result.notes,
            "settings": settings_dict(result.settings),
            "basis": METRIC_BASIS,
        }
    )


def _equity(run: EngineResult) -> tuple[np.ndarray, np.ndarray]:
    """(round index, equity in ether) including the starting point."""
    idx = run.bets["round_index"].to_numpy(dtype=np.int64)
    eq = run.bets["equity_wei"].to_numpy(dtype=np.float64) / WEI_PER_ETHER
    start = idx[0] if len(idx) else 0
    return np.concatenate(([start], idx)), np.concatenate(([run.bankroll_wei / WEI_PER_ETHER], eq))


def plot_equity(result: BacktestResult, path: Path) -> Path:
    """Equity curves (strategy and baselines) over round time, with the strategy's drawdown below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6.5), dpi=100)
    FigureCanvasAgg(fig)
    ax, ax_dd = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    lock = result.run.round_lock_ts
    times = lock.astype("datetime64[s]")
    for name, run in [(result.strategy, result.run), *result.baseline_runs.items()]:
        idx, eq = _equity(run)
        ax.plot(times[idx] if len(lock) else idx, eq, label=name, linewidth=1.4 if run is result.run else 0.9)
    ax.set_ylabel("equity")
    ax.set_title(f"{result.strategy} vs baselines — signals {signal_label(result)}")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    idx, eq = _equity(result.run)
    peak = np.maximum.accumulate(eq)
    ax_dd.fill_between(times[idx] if len(lock) else idx, (eq - peak), 0, color="tab:red", alpha=0.4, step="post")
    ax_dd.set_ylabel("drawdown")
    ax_dd.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_hit_rate(result: BacktestResult, path: Path, window: int | None = None) -> Path:
    """Rolling hit rate of the settled bets (refunds left out) against 50 %."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    res = result.run.bets["result"].to_numpy()
    settled = res != REFUND
    hits = (res[settled] == WON).astype(np.float64)
    win = window or int(min(500, max(20, len(hits) // 20)))
    if len(hits) >= win:
        kernel = np.ones(win) / win
        rolling = np.convolve(hits, kernel, mode="valid")
        ax.plot(np.arange(win, len(hits) + 1), rolling, linewidth=1.0, label=f"rolling {win} bets")
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_ylim(0, 1)
    ax.set_xlabel("settled bet")
    ax.set_ylabel("hit rate")
    ax.set_title(f"{result.strategy}: rolling hit rate")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path


def html_report(result: BacktestResult, images: dict[str, Path]) -> str:
    """A self-contained HTML page: the table, the notes and the plots embedded as base64 PNG."""
    cols = _columns(result)
    head = "".join(f"<th>{html.escape(column_name(name, m))}</th>" for name, m in cols)
    cells = [_cells(m) for _, m in cols]
    body = "".join(
        f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{html.escape(c[i][1])}</td>" for c in cells) + "</tr>"
        for i, (label, _) in enumerate(cells[0])
    )
    ruin = "".join(f'<p class="ruin"><b>{html.escape(n)}</b></p>' for n in result.notes if n.startswith("RUINED"))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    gaps = "".join(f"<li>{html.escape(g.describe())}</li>" for g in result.gaps[:50])
    imgs = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(path.read_bytes()).decode()}"/></figure>'
        for name, path in images.items()
    )
    params = html.escape(json.dumps(_clean(result.strategy_params)))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>backtest {html.escape(result.strategy)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}td:first-child{{text-align:left}}
img{{max-width:100%}}.warn{{color:#a40}}.ruin{{color:#b00}}</style></head><body>
<h1>Backtest: {html.escape(result.strategy)}</h1>
{ruin}
<p>Signals: <b class="{'' if result.signal_is_allora else 'warn'}">{html.escape(signal_label(result))}</b>;
pools: <b>{html.escape(result.pools_source)}</b>;
data: {html.escape(result.data_source)}; parameters: <code>{params}</code></p>
<table><thead><tr><th>metric</th>{head}</tr></thead><tbody>{body}</tbody></table>
<p><small>{html.escape(METRIC_BASIS)}; amounts in ether units. Fingerprint <code>{result.fingerprint}</code></small></p>
<h2>Notes</h2><ul>{notes}</ul>{f"<h2>Gaps</h2><ul>{gaps}</ul>" if gaps else ""}
{imgs}
</body></html>
"""


def save_report(result: BacktestResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json``, ``equity.png``, ``hit_rate.png`` and ``report.html`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = {
        "equity": plot_equity(result, out / "equity.png"),
        "hit_rate": plot_hit_rate(result, out / "hit_rate.png"),
    }
    json_path = out / "report.json"
    json_path.write_text(json.dumps(to_json(result), indent=2) + "\n", encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(html_report(result, images), encoding="utf-8")
    return {"json": json_path, "html": html_path, **images}
