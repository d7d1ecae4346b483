"""Manual trading and inspection: ``bet``, ``claim``, ``status``, ``history``, ``pnl``.

A manual bet goes through the same journal, risk limits and executor as the daemon, so a running daemon sees it and
does not bet that round again.
"""

from __future__ import annotations

import re
import time
from typing import Any

import click
from sqlalchemy import select

from bot.app import App, build_app
from bot.cli.common import EXIT, CliError, Ctx, emit, json_option, parse_amount, pass_ctx
from bot.domain import Position
from bot.engine.account_lock import AccountBusy
from bot.engine.executor import BetRequest, BetResult, await_outcome, hand_over
from bot.engine.health import to_plain
from bot.engine.risk import RiskContext, default_limits, evaluate
from bot.payout import expected_payout_if_win, gross_multiple
from bot.store import hotjournal
from bot.store.db import session_scope
from bot.store.journal import Intent, IntentState

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _check_market(ctx: Ctx, name: str) -> None:
    names = [m.name for m in ctx.settings.markets]
    if name not in names:
        raise CliError(f"unknown market {name!r} (configured: {', '.join(names) or 'none'})")


def _check_account(account: str | None) -> None:
    if account is not None and not ADDRESS.match(account):
        raise CliError(f"malformed address {account!r}: expected 0x followed by 40 hex digits")


def latest_signal_text(app: App, market: str) -> dict[str, Any] | None:
    """The latest accepted Allora inference logged for the market's topic (what the daemon would use)."""
    cfg = app.settings.market(market)
    if cfg.topic is None:
        return None
    topic = app.settings.topic(cfg.topic)
    from bot.store.inferences import latest_accepted

    with session_scope(app.sessions) as s:
        row = latest_accepted(s, topic.topic_id)
        if row is None:
            return None
        return {"topic": topic.name, "value": row.value, "timestamp": row.timestamp,
                "age_s": int(time.time() - (row.timestamp or 0)), "source": row.source}


def round_view(app: App, market: str, epoch: int | None = None, stake: int = 0, position: Position | None = None):
    m = app.market(market)
    current = m.current_epoch()
    epoch = current if epoch is None else epoch
    rnd = m.round(epoch)
    params = m.params()
    now = m.chain_time()
    fee = params.treasury_fee_bp
    total = rnd.bull_amount + rnd.bear_amount
    view: dict[str, Any] = {
        "market": market, "epoch": epoch, "current_epoch": current,
        "status": m.status(rnd, now, current_epoch=current).value,
        "seconds_to_lock": rnd.lock_timestamp - now if rnd.started else None,
        "bull_pool_wei": rnd.bull_amount, "bear_pool_wei": rnd.bear_amount,
        "bull_multiple": round(gross_multiple(rnd.bull_amount, total, fee), 4),
        "bear_multiple": round(gross_multiple(rnd.bear_amount, total, fee), 4),
        "min_bet_wei": params.min_bet_amount, "fee_bp": fee, "paused": params.paused,
    }
    if stake and position is not None:
        side = rnd.bull_amount if position is Position.BULL else rnd.bear_amount
        other = rnd.bear_amount if position is Position.BULL else rnd.bull_amount
        view["multiple_after_our_stake"] = round(gross_multiple(side, total, fee, stake), 4)
        view["payout_if_win_wei"] = expected_payout_if_win(stake, side, other, fee)
    return view, rnd, params


def register(cli: click.Group) -> None:  # noqa: C901 — one nested function per command
    @cli.command("bet")
    @click.argument("side", type=click.Choice(["bull", "bear"], case_sensitive=False))
    @click.option("--market", "-m", required=True, help="Market name from the config.")
    @click.option("--amount", "-a", required=True, help="Stake in coin units (0.01) or wei (10000000000000000wei).")
    @click.option("--epoch", type=int, default=None, help="Round to bet (default: the current round).")
    @click.option("--live", is_flag=True, help="Send a real transaction (default: paper, recorded only).")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
    @json_option
    @pass_ctx
    def bet(ctx: Ctx, side: str, market: str, amount: str, epoch: int | None, live: bool, yes: bool,
            as_json: bool) -> None:
        """Bet on a round by hand, through the same journal, risk limits and executor as the daemon."""
        parse_amount(amount)  # a malformed amount is refused before anything connects (18 decimals at most)
        _check_market(ctx, market)
        if epoch is not None and epoch <= 0:
            raise CliError(f"epoch must be positive, got {epoch}")
        position = Position.parse(side)
        app = build_app(ctx.settings, live=live or ctx.settings.mode == "live")
        stake = parse_amount(amount, app.market(market).coin_decimals())  # V3: the stake token's own decimals
        view, rnd, params = round_view(app, market, epoch, stake, position)
        if stake < params.min_bet_amount:
            raise CliError(f"amount {stake} wei is below the market minimum {params.min_bet_amount} wei")
        if view["status"] != "open":
            raise CliError(f"round {view['epoch']} is not bettable (status {view['status']})", EXIT["refused"])
        view["signal"] = latest_signal_text(app, market)
        view.update(side=position.label, stake_wei=stake, mode=app.settings.mode)
        if not yes:
            if as_json or not _interactive():
                raise CliError("confirmation needed: pass --yes (no terminal to ask on)")
            _show(view)
            click.confirm("Place this bet?", abort=True)
        account = app.account_address()
        stats = hotjournal.risk_snapshot(app.engine, market, view["epoch"], account, app.settings.mode).stats
        bankroll = int(app.w3_for(market).eth.get_balance(account)) if app.live else stake * 1000  # type: ignore[arg-type]
        verdict = evaluate(default_limits(app.settings.risk), RiskContext(
            market=market, epoch=view["epoch"], stake_wei=stake, bankroll_wei=bankroll,
            total_pool_wei=rnd.total_amount, params=params, day_staked_wei=stats[0], day_pnl_wei=stats[1],
            consecutive_losses=stats[2]))
        if not verdict.allowed:
            raise CliError(f"refused by risk limit {verdict.limit}: {verdict.reason}", EXIT["refused"])
        req = BetRequest(
            market=app.market(market), epoch=view["epoch"], position=position, amount=stake,
            lock_ts=rnd.lock_timestamp, start_ts=rnd.start_timestamp, strategy="manual", origin="manual",
            decision={"manual": True, "bull_pool_wei": rnd.bull_amount, "bear_pool_wei": rnd.bear_amount},
            fired_at=time.perf_counter())
        try:
            result = app.executor(market).place(req)  # live: takes the account lock first (one sender per account)
            executed_by = "this process"
        except AccountBusy as busy:
            if busy.holder.get("role") != "daemon":
                raise
            result = _through_the_daemon(app, req, rnd.lock_timestamp - int(view["seconds_to_lock"] or 0))
            executed_by = f"the running daemon (pid {busy.holder.get('pid')})"
        finally:
            app.release_locks()
        out = {**view, "result": result.state.value, "reason": result.reason, "tx_hash": result.tx_hash,
               "duplicate": result.duplicate, "executed_by": executed_by}
        emit(out, as_json, f"{result.state.value}: {position.label} {stake} wei on {market} epoch {view['epoch']}"
             + (f" tx {result.tx_hash}" if result.tx_hash else "") + (f" ({result.reason})" if result.reason else ""))
        if result.duplicate:  # the journal already holds a bet for this round: this one was not placed
            click.echo(f"refused: round {view['epoch']} already has a bet in the journal ({result.state.value})",
                       err=True)
            raise click.exceptions.Exit(EXIT["refused"])
        if result.state.value not in ("landed", "paper", "sent"):
            raise click.exceptions.Exit(EXIT["refused"])

    @cli.command("claim")
    @click.option("--market", "-m", default=None, help="Only this market (default: all).")
    @json_option
    @pass_ctx
    def claim(ctx: Ctx, market: str | None, as_json: bool) -> None:
        """Sweep every unclaimed winning or refundable round (live only) and claim it in batches."""
        if market is not None:
            _check_market(ctx, market)
        app = build_app(ctx.settings, live=True)
        for name in app.markets:  # one live sender per account: a running daemon claims by itself (exit 4 here)
            app.lock_account("claim", name)
        from bot.app import build_reconcilers

        report: dict[str, Any] = {}
        for rec in build_reconcilers(app):
            rec.reconcile()
            report[",".join(m.name for m in rec.markets)] = to_plain(rec.claim())
            rec.reconcile()  # attribute the claims (amounts, gas) to the settled bets
        emit(report, as_json, lambda: _echo_lines(report))

    @cli.command("status")
    @click.option("--account", default=None, help="Show open bets of this address (default: the configured key).")
    @json_option
    @pass_ctx
    def status(ctx: Ctx, account: str | None, as_json: bool) -> None:
        """Markets, current round, time to lock, pools, latest inferences, open bets, daemon health."""
        _check_account(account)
        app = build_app(ctx.settings, live=False)
        who = account or app.account_address()
        out: dict[str, Any] = {"mode": app.settings.mode, "account": who, "markets": {}}
        for name in app.markets:
            view, _, _ = round_view(app, name)
            view["signal"] = latest_signal_text(app, name)
            out["markets"][name] = view
        with session_scope(app.sessions) as s:
            rows = s.scalars(select(Intent).where(Intent.account == who).order_by(Intent.id.desc()).limit(10)).all()
            out["recent_bets"] = [{"market": r.market, "epoch": r.epoch, "side": Position(r.position).label,
                                   "amount_wei": r.amount_wei, "state": r.state, "origin": r.origin} for r in rows]
        out["daemon"] = _daemon_health(app)
        emit(out, as_json, lambda: _show_status(out))

    @cli.command("history")
    @click.option("--market", "-m", default=None)
    @click.option("--account", default=None)
    @click.option("--limit", type=click.IntRange(1, 100000), default=50)
    @json_option
    @pass_ctx
    def history(ctx: Ctx, market: str | None, account: str | None, limit: int, as_json: bool) -> None:
        """Settled bets (from reconciliation) with payouts, gas and net PnL."""
        _check_account(account)
        if market is not None:
            _check_market(ctx, market)
        app = build_app(ctx.settings, live=False, connect_chains=False)
        from bot.store.outcomes import Settlement

        with session_scope(app.sessions) as s:
            stmt = select(Settlement).order_by(Settlement.epoch.desc()).limit(limit)
            if market:
                stmt = stmt.where(Settlement.market == market)
            if account:
                stmt = stmt.where(Settlement.account == account)
            rows = [{"market": r.market, "epoch": r.epoch, "account": r.account, "side": Position(r.position).label,
                     "stake_wei": r.stake_wei, "status": r.status, "payout_wei": r.payout_wei,
                     "gas_wei": r.bet_gas_wei + r.claim_gas_wei, "net_pnl_wei": r.net_pnl_wei, "claimed": r.claimed,
                     "origin": r.origin} for r in s.scalars(stmt)]
            rows += [{"market": i.market, "epoch": i.epoch, "account": i.account, "side": Position(i.position).label,
                      "stake_wei": 0, "status": f"{i.state} (mined, reverted)", "payout_wei": 0,
                      "gas_wei": i.gas_cost_wei, "net_pnl_wei": -i.gas_cost_wei, "claimed": False, "origin": i.origin}
                     for i in _reverted_bets(s, market, account, limit)]
        rows.sort(key=lambda r: -int(str(r["epoch"])))
        rows = rows[:limit]
        emit(rows, as_json, lambda: _table(rows, ["market", "epoch", "side", "stake_wei", "status", "payout_wei",
                                                  "gas_wei", "net_pnl_wei", "claimed"]))

    @cli.command("pnl")
    @click.option("--account", default=None)
    @json_option
    @pass_ctx
    def pnl(ctx: Ctx, account: str | None, as_json: bool) -> None:
        """PnL per market and day (UTC), in wei, from settled bets."""
        _check_account(account)
        app = build_app(ctx.settings, live=False, connect_chains=False)
        from bot.store.outcomes import Settlement

        table: dict[tuple[str, str, str], dict[str, int]] = {}
        with session_scope(app.sessions) as s:
            stmt = select(Settlement)
            if account:
                stmt = stmt.where(Settlement.account == account)
            for r in s.scalars(stmt):
                day = time.strftime("%Y-%m-%d", time.gmtime(r.settled_at or 0))
                key = (r.market, r.origin, day)
                acc = table.setdefault(key, {"bets": 0, "staked_wei": 0, "returned_wei": 0, "gas_wei": 0,
                                             "net_pnl_wei": 0})
                acc["bets"] += 1
                acc["staked_wei"] += r.stake_wei
                acc["returned_wei"] += r.payout_wei
                acc["gas_wei"] += r.bet_gas_wei + r.claim_gas_wei
                acc["net_pnl_wei"] += r.net_pnl_wei
            for i in _reverted_bets(s, None, account, None):  # a bet mined after lock still paid its gas
                day = time.strftime("%Y-%m-%d", time.gmtime(i.block_timestamp or i.created_at))
                acc = table.setdefault((i.market, i.origin, day), {"bets": 0, "staked_wei": 0, "returned_wei": 0,
                                                                   "gas_wei": 0, "net_pnl_wei": 0})
                acc["gas_wei"] += i.gas_cost_wei
                acc["net_pnl_wei"] -= i.gas_cost_wei
        rows = [{"market": k[0], "origin": k[1], "day": k[2], **v} for k, v in sorted(table.items())]
        emit(rows, as_json, lambda: _table(rows, ["market", "origin", "day", "bets", "staked_wei", "returned_wei",
                                                  "gas_wei", "net_pnl_wei"]))


def _echo_lines(report: dict[str, Any]) -> None:
    for key, value in report.items():
        click.echo(f"{key}: {value}")


def _reverted_bets(session: Any, market: str | None, account: str | None, limit: int | None) -> list[Intent]:
    """Our live bets that were mined and reverted (too late, or refused by the contract): no settlement, but gas."""
    stmt = select(Intent).where(Intent.mode == "live", Intent.block_number.is_not(None),
                                Intent.state.in_([IntentState.REVERTED.value, IntentState.TOO_LATE.value]))
    if market:
        stmt = stmt.where(Intent.market == market)
    if account:
        stmt = stmt.where(Intent.account == account)
    rows = [i for i in session.scalars(stmt.order_by(Intent.epoch.desc())) if i.gas_cost_wei > 0]
    return rows[:limit] if limit is not None else rows


def _through_the_daemon(app: App, req: BetRequest, chain_now: int) -> BetResult:
    """The account is held by a running daemon: journal the bet as a manual intent for it, then wait for its result
    (the daemon signs it through the same caps and lifecycle; nothing is signed here)."""
    opened = hand_over(app.engine, req, app.account_address(), app.caps())
    if opened.denied:
        return BetResult(opened.row.id, IntentState.FAILED, f"spending cap: {opened.denied}")
    if not opened.created:
        return BetResult(opened.row.id, opened.row.state, "already decided for this round", duplicate=True)
    click.echo(f"handed to the running daemon as intent {opened.row.id}; waiting for its result", err=True)
    deadline = time.time() + max(req.lock_ts - chain_now, 0) + app.settings.execution.claim_interval_seconds + 30
    row = await_outcome(app.engine, opened.row.id, deadline)
    if not row.state.terminal:
        return BetResult(row.id, row.state, "the daemon has not finished it yet: see `status`")
    return BetResult(row.id, row.state, row.reason, row.tx_hash)


def _interactive() -> bool:
    import sys

    return sys.stdin.isatty()


def _daemon_health(app: App) -> dict[str, Any] | None:
    import json
    from pathlib import Path

    from bot.engine.health import health_path

    path: Path = health_path(app.settings)
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    data["age_s"] = round(time.time() - float(data.get("written_at", 0)), 1)
    return data


def _show(view: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{view['market']} epoch {view['epoch']}", show_header=False)
    for key, value in view.items():
        table.add_row(key, str(value))
    Console().print(table)


def _show_status(out: dict[str, Any]) -> None:
    click.echo(f"mode {out['mode']}  account {out['account']}")
    for name, view in out["markets"].items():
        click.echo(f"  {name}: epoch {view['epoch']} {view['status']}  lock in {view['seconds_to_lock']}s  "
                   f"bull {view['bull_pool_wei']} ({view['bull_multiple']}x)  bear {view['bear_pool_wei']} "
                   f"({view['bear_multiple']}x)  signal {view['signal']}")
    for bet in out["recent_bets"]:
        click.echo(f"  bet {bet['market']} #{bet['epoch']} {bet['side']} {bet['amount_wei']} {bet['state']}")
    click.echo(f"  daemon: {out['daemon'] or 'no heartbeat'}")


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    Console().print(table)
