"""``status``, ``history``, ``pnl``: what the bot did and where it stands, read through the query service
(``bot.query``), amounts in each market's coin (``--wei`` for exact wei), paper and live apart, open vs settled.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.common import CliError, Ctx, emit, json_option, pass_ctx
from bot.cli.render import (
    Column,
    Money,
    coin_fields,
    examples,
    one_coin,
    print_pairs,
    print_table,
    wei_option,
    when,
)
from bot.coins import Coin, coins_of

MODES = click.Choice(["paper", "live"])


if TYPE_CHECKING:  # the store stack loads when a command runs, not for every --help
    from bot.query import Bet, PnlRow, QueryService


def check_account(account: str | None) -> None:
    import re

    if account is not None and not re.fullmatch(r"0x[0-9a-fA-F]{40}", account):
        raise CliError(f"malformed address {account!r}: expected 0x followed by 40 hex digits")


def check_market(ctx: Ctx, name: str | None) -> None:
    if name is None:
        return
    names = [m.name for m in ctx.settings.markets]
    if name not in names:
        raise CliError(f"unknown market {name!r} (configured: {', '.join(names) or 'none'})")


def query_service(ctx: Ctx, engine: Any = None) -> QueryService:
    """The query service over the configured database (``engine``: one already open), coins from the config."""
    from bot.query import QueryService
    from bot.store.db import make_engine

    settings = ctx.settings
    return QueryService(engine if engine is not None else make_engine(settings.database_url), coins_of(settings))


def bet_json(bet: Bet) -> dict[str, Any]:
    """A bet as JSON: every field (wei exact), plus the amounts as exact coin text and the dates in UTC."""
    from bot.query import to_plain

    coin = Coin(bet.coin, bet.decimals)
    data: dict[str, Any] = to_plain(bet)
    data.update(coin_fields({"amount_wei": bet.amount_wei, "payout_wei": bet.payout_wei, "gas_wei": bet.gas_wei,
                             "net_pnl_wei": bet.net_pnl_wei}, coin))
    data["placed_utc"] = when(bet.placed_at) if bet.placed_at else None
    data["settled_utc"] = when(bet.settled_at) if bet.settled_at else None
    return data


def _amounts(money: Money, rows: Sequence[Bet] | Sequence[PnlRow]) -> tuple[str, Callable[[int, Any], str]]:
    """(header unit, cell formatter) for a table of rows that carry ``coin`` and ``decimals``: when every row is in one
    coin its unit goes in the headers (`` (ETH)``) and the cells hold bare amounts; otherwise each cell names its coin."""
    shared = one_coin([Coin(r.coin, r.decimals) for r in rows])

    def amount(wei: int, row: Any) -> str:
        return money(wei, Coin(row.coin, row.decimals), unit=shared is None)

    return (f" ({money.unit(shared)})" if shared else ""), amount


def bet_columns(money: Money, rows: Sequence[Bet] = ()) -> list[Column]:
    """Columns of a bets table; when every row is in one coin its unit goes in the headers, not in each cell."""
    unit, amount = _amounts(money, rows)

    def outcome(b: Bet) -> str:
        if b.outcome == "won" and b.claimable and not b.claimed:
            return "won (to claim)"
        return b.outcome

    return [
        Column("mode", lambda b: b.mode),
        Column("market", lambda b: b.market),
        Column("epoch", lambda b: str(b.epoch), "right"),
        Column("side", lambda b: b.side),
        Column("stake" + unit, lambda b: amount(b.amount_wei, b), "right"),
        Column("outcome", outcome),
        Column("payout" + unit, lambda b: amount(b.payout_wei, b) if b.settled else "-", "right"),
        Column("gas" + unit, lambda b: amount(b.gas_wei, b), "right", drop=2),
        Column("net PnL" + unit, lambda b: amount(b.net_pnl_wei, b) if b.settled else "-", "right"),
        Column("when (UTC)", lambda b: when(b.settled_at if b.settled else b.placed_at), drop=1),
        Column("origin", lambda b: b.origin, drop=3),
        Column("p_up", lambda b: "-" if b.p_up is None else f"{b.p_up:.3f}", "right", drop=4),
        Column("tx", lambda b: b.tx or "-", drop=5),
    ]


def pnl_columns(money: Money, rows: Sequence[PnlRow] = ()) -> list[Column]:
    unit, amount = _amounts(money, rows)

    return [
        Column("mode", lambda r: r.mode),
        Column("market", lambda r: r.market),
        Column("day (UTC)", lambda r: r.day),
        Column("bets", lambda r: str(r.bets), "right"),
        Column("won", lambda r: str(r.won), "right", drop=2),
        Column("lost", lambda r: str(r.lost), "right", drop=2),
        Column("staked" + unit, lambda r: amount(r.staked_wei, r), "right"),
        Column("returned" + unit, lambda r: amount(r.returned_wei, r), "right", drop=1),
        Column("gas" + unit, lambda r: amount(r.gas_wei, r), "right", drop=3),
        Column("net PnL" + unit, lambda r: amount(r.net_pnl_wei, r), "right"),
    ]


def daemon_health(settings: Any) -> dict[str, Any] | None:
    """The running daemon's last heartbeat file (``None``: no daemon has written one)."""
    from bot.engine.health import health_path

    path: Path = health_path(settings)
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    data["age_s"] = round(time.time() - float(data.get("written_at", 0)), 1)
    return data


def daemon_line(health: dict[str, Any] | None) -> str:
    if not health:
        return "no heartbeat (no daemon running here)"
    bets = health.get("bets") or {}
    bet_text = ", ".join(f"{k} {v}" for k, v in sorted(bets.items())) if isinstance(bets, dict) else str(bets)
    line = (f"pid {health.get('pid', '?')}, {health.get('mode', '?')} mode, heartbeat {health['age_s']:.0f} s ago; "
            f"rounds {health.get('rounds_seen', 0)}, decisions {health.get('decisions', 0)}, "
            f"bets: {bet_text or 'none'}, skips {health.get('skips', 0)}, errors {health.get('errors', 0)}")
    if health.get("last_error"):
        line += f" (last: {health['last_error']})"
    return line


def register(cli: click.Group) -> None:  # noqa: C901 — one nested function per command
    @cli.command("status", epilog=examples("allora-bot status", "allora-bot status --wei",
                                           "allora-bot status --json -c config/devnet.yaml"))
    @click.option("--account", default=None, help="Show bets of this address (default: the configured key's).")
    @wei_option
    @json_option
    @pass_ctx
    def status(ctx: Ctx, account: str | None, show_wei: bool, as_json: bool) -> None:
        """Markets, current round, time to lock, pools, latest inferences, recent bets, daemon health."""
        from bot.app import build_app
        from bot.cli.trade import latest_signal, round_view

        check_account(account)
        app = build_app(ctx.settings, live=False)
        who = account or app.account_address()
        queries = query_service(ctx, app.engine)
        markets: dict[str, Any] = {}
        for name in app.markets:
            view, _, _ = round_view(app, name, coin=queries.coin(name))
            view["signal"] = latest_signal(app, queries, name)
            markets[name] = view
        recent = queries.recent_bets(who, limit=10)
        health = daemon_health(app.settings)
        out = {"mode": app.settings.mode, "account": who, "markets": markets,
               "recent_bets": [bet_json(b) for b in recent], "daemon": health}
        if as_json:
            emit(out, True)
            return
        money = Money(show_wei)
        click.echo(f"mode {out['mode']}   account {who}")
        click.echo(f"daemon: {daemon_line(health)}")

        def coin_of(v: dict[str, Any]) -> Coin:
            return queries.coin(v["market"])

        print_table(list(markets.values()), [
            Column("market", lambda v: v["market"]),
            Column("epoch", lambda v: str(v["epoch"]), "right"),
            Column("round", lambda v: v["status"]),
            Column("lock in", lambda v: "-" if v["seconds_to_lock"] is None else f"{v['seconds_to_lock']} s", "right"),
            Column("bull pool", lambda v: f"{money(v['bull_pool_wei'], coin_of(v))} ({v['bull_multiple']}x)", "right"),
            Column("bear pool", lambda v: f"{money(v['bear_pool_wei'], coin_of(v))} ({v['bear_multiple']}x)", "right"),
            Column("signal", lambda v: signal_text(v["signal"]), drop=1),
        ], title="markets")
        print_table(recent, bet_columns(money, recent), title="recent bets", empty="none yet")

    @cli.command("history", epilog=examples(
        "allora-bot history", "allora-bot history --mode live --settled", "allora-bot history --open",
        "allora-bot history -m btc-devnet --limit 20 --wei", "allora-bot history --json -c config/devnet.yaml"))
    @click.option("--market", "-m", default=None, help="Only this market (a name from the config).")
    @click.option("--account", default=None, help="Only bets of this address.")
    @click.option("--mode", type=MODES, default=None, help="Only paper or only live bets (default: both, apart).")
    @click.option("--open", "only_open", is_flag=True, help="Only open bets (outcome not known yet).")
    @click.option("--settled", "only_settled", is_flag=True, help="Only settled bets (outcome known).")
    @click.option("--limit", type=click.IntRange(1, 100000), default=50, show_default=True,
                  help="At most this many bets, newest first.")
    @wei_option
    @json_option
    @pass_ctx
    def history(ctx: Ctx, market: str | None, account: str | None, mode: str | None, only_open: bool,
                only_settled: bool, limit: int, show_wei: bool, as_json: bool) -> None:
        """Our bets, newest first: paper and live apart, open and settled, with payouts, gas and net PnL in the
        market's coin. A bet mined after lock and reverted shows as settled 'reverted' (it paid gas)."""
        check_account(account)
        check_market(ctx, market)
        if only_open and only_settled:
            raise CliError("--open and --settled exclude each other (give neither for both)")
        settled = True if only_settled else False if only_open else None
        queries = query_service(ctx)
        bets = queries.bets(mode, market, account, settled=settled, limit=limit)
        if as_json:
            emit([bet_json(b) for b in bets], True)
            return
        money = Money(show_wei)
        groups = [m for m in ("live", "paper") if mode in (None, m)]
        for group in groups:
            part = [b for b in bets if b.mode == group]
            print_table(part, bet_columns(money, part)[1:], title=f"{group} bets", empty="none")
        settled_n = sum(b.settled for b in bets)
        click.echo(f"{len(bets)} bet(s): {len(bets) - settled_n} open, {settled_n} settled; dates UTC")

    @cli.command("pnl", epilog=examples("allora-bot pnl", "allora-bot pnl --mode live", "allora-bot pnl --wei --json"))
    @click.option("--account", default=None, help="Only bets of this address.")
    @click.option("--market", "-m", default=None, help="Only this market.")
    @click.option("--mode", type=MODES, default=None, help="Only paper or only live (default: both, apart).")
    @wei_option
    @json_option
    @pass_ctx
    def pnl(ctx: Ctx, account: str | None, market: str | None, mode: str | None, show_wei: bool,
            as_json: bool) -> None:
        """Profit and loss of settled bets per mode, market and day (UTC, the day the outcome became known), in the
        market's coin. Open bets are not in it (see `history --open`)."""
        check_account(account)
        check_market(ctx, market)
        from bot.query import to_plain

        queries = query_service(ctx)
        rows = queries.pnl(mode, market, account)
        if as_json:
            emit([{**to_plain(r), **coin_fields({"staked_wei": r.staked_wei, "returned_wei": r.returned_wei,
                                                 "gas_wei": r.gas_wei, "net_pnl_wei": r.net_pnl_wei},
                                                Coin(r.coin, r.decimals))} for r in rows], True)
            return
        money = Money(show_wei)
        print_table(rows, pnl_columns(money, rows), title="PnL of settled bets per day (UTC)")
        totals: dict[tuple[str, str, int], int] = {}
        for r in rows:
            key = (r.mode, r.coin, r.decimals)
            totals[key] = totals.get(key, 0) + r.net_pnl_wei
        pairs = [(f"{m} total", money(v, Coin(c, d))) for (m, c, d), v in sorted(totals.items())]
        if pairs:
            print_pairs(pairs)
        open_bets = queries.open_bets(mode, market, account, limit=None)
        if open_bets:
            click.echo(f"{len(open_bets)} open bet(s) not counted yet (history --open)")


def signal_text(signal: dict[str, Any] | None) -> str:
    if not signal:
        return "no inference logged"
    return f"{signal['topic']}: {signal['value']} ({signal['age_s']} s old, {signal['source']})"
