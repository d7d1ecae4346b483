"""Manual trading: ``bet`` and ``claim``.

A manual bet goes through the same journal, risk limits and executor as the daemon, so a running daemon sees it and
does not bet that round again. Amounts are in the market's coin (``--wei`` shows exact wei). ``claim`` sends real
transactions only with ``--live`` and after a confirmation (``--yes`` skips it); without ``--live`` it shows what the
journal says is claimable and refuses (exit 2), whatever the config's mode.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from bot.cli.common import EXIT, CliError, Ctx, emit, json_option, parse_amount, pass_ctx
from bot.cli.records import bet_columns, bet_json, check_market, query_service
from bot.cli.render import Column, Money, coin_fields, examples, print_pairs, print_table, wei_option
from bot.coins import Coin
from bot.domain import Position

if TYPE_CHECKING:  # the chain, engine and store stacks load when a command runs, not for every --help
    from bot.app import App
    from bot.engine.executor import BetRequest, BetResult
    from bot.query import QueryService


def latest_signal(app: App, queries: QueryService, market: str) -> dict[str, Any] | None:
    """The latest accepted Allora inference logged for the market's topic (what the daemon would use)."""
    cfg = app.settings.market(market)
    if cfg.topic is None:
        return None
    topic = app.settings.topic(cfg.topic)
    row = queries.latest_inference(topic.topic_id)
    if row is None:
        return None
    return {"topic": topic.name, "value": row.value, "timestamp": row.timestamp,
            "age_s": int(time.time() - (row.timestamp or 0)), "source": row.source}


def round_view(app: App, market: str, epoch: int | None = None, stake: int = 0, position: Position | None = None,
               coin: Coin | None = None) -> tuple[dict[str, Any], Any, Any]:
    """The round as the CLI shows it: pools (wei, and exact coin text), multiples, time to lock."""
    from bot.payout import expected_payout_if_win, gross_multiple

    m = app.market(market)
    current = m.current_epoch()
    epoch = current if epoch is None else epoch
    rnd = m.round(epoch)
    params = m.params()
    now = m.chain_time()
    fee = params.treasury_fee_bp
    total = rnd.bull_amount + rnd.bear_amount
    coin = coin or Coin("?", 18)
    view: dict[str, Any] = {
        "market": market, "epoch": epoch, "current_epoch": current, "coin": coin.symbol,
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
    view.update(coin_fields({k: v for k, v in view.items() if k.endswith("_wei")}, coin))
    return view, rnd, params


def register(cli: click.Group) -> None:  # noqa: C901 — one nested function per command
    @cli.command("bet", epilog=examples(
        "allora-bot bet bull -m btc-devnet -a 0.01            # paper (recorded only), asks first",
        "allora-bot bet bear -m btc-devnet -a 0.05 --live --yes",
        "allora-bot bet bull -m btc-devnet -a 10000000000000000wei --json --yes"))
    @click.argument("side", type=click.Choice(["bull", "bear"], case_sensitive=False))
    @click.option("--market", "-m", required=True, help="Market name from the config.")
    @click.option("--amount", "-a", required=True,
                  help="Stake in the market's coin (0.01), or exact wei (10000000000000000wei); more decimals than "
                       "the coin has is refused.")
    @click.option("--epoch", type=int, default=None, help="Round to bet (default: the current round).")
    @click.option("--live", is_flag=True, help="Send a real transaction (default: paper, recorded only).")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
    @wei_option
    @json_option
    @pass_ctx
    def bet(ctx: Ctx, side: str, market: str, amount: str, epoch: int | None, live: bool, yes: bool,
            show_wei: bool, as_json: bool) -> None:
        """Bet on a round by hand, through the same journal, risk limits and executor as the daemon."""
        parse_amount(amount)  # a malformed amount is refused before anything connects (18 decimals at most)
        check_market(ctx, market)
        if epoch is not None and epoch <= 0:
            raise CliError(f"epoch must be positive, got {epoch}")
        from bot.app import build_app
        from bot.engine.account_lock import AccountBusy
        from bot.engine.executor import BetRequest
        from bot.engine.risk import RiskContext, default_limits, evaluate
        from bot.store import hotjournal

        position = Position.parse(side)
        app = build_app(ctx.settings, live=live or ctx.settings.mode == "live")
        decimals = app.market(market).coin_decimals()  # V3: the stake token's own decimals, read from the chain
        coin = Coin(query_service(ctx, app.engine).coin(market).symbol, decimals)
        stake = parse_amount(amount, decimals)
        money = Money(show_wei)
        view, rnd, params = round_view(app, market, epoch, stake, position, coin)
        if stake < params.min_bet_amount:
            raise CliError(f"amount {money(stake, coin)} is below the market minimum {money(params.min_bet_amount, coin)}")
        if view["status"] != "open":
            raise CliError(f"round {view['epoch']} is not bettable (status {view['status']})", EXIT["refused"])
        view["signal"] = latest_signal(app, query_service(ctx, app.engine), market)
        view.update(side=position.label, stake_wei=stake, stake=coin.text(stake, symbol=False), mode=app.settings.mode)
        if not yes:
            if as_json or not _interactive():
                raise CliError("confirmation needed: pass --yes (no terminal to ask on)")
            _preview(view, coin, money, app.live)
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
        emit(out, as_json, f"{result.state.value}: {position.label} {money(stake, coin)} on {market} epoch "
             f"{view['epoch']} ({app.settings.mode})" + (f" tx {result.tx_hash}" if result.tx_hash else "")
             + (f" ({result.reason})" if result.reason else ""))
        if result.duplicate:  # the journal already holds a bet for this round: this one was not placed
            click.echo(f"refused: round {view['epoch']} already has a bet in the journal ({result.state.value})",
                       err=True)
            raise click.exceptions.Exit(EXIT["refused"])
        if result.state.value not in ("landed", "paper", "sent"):
            raise click.exceptions.Exit(EXIT["refused"])

    @cli.command("claim", epilog=examples(
        "allora-bot claim                      # shows what is claimable, sends nothing",
        "allora-bot claim --live               # asks, then claims every market",
        "allora-bot claim --live --yes -m btc-devnet --json"))
    @click.option("--market", "-m", default=None, help="Only this market (default: all).")
    @click.option("--live", is_flag=True, help="Send the claim transactions (without it: show what is claimable, "
                                                "send nothing, exit 2).")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation before sending.")
    @wei_option
    @json_option
    @pass_ctx
    def claim(ctx: Ctx, market: str | None, live: bool, yes: bool, show_wei: bool, as_json: bool) -> None:
        """Claim every won or refundable round of our live account, in batches (a real transaction: needs --live)."""
        check_market(ctx, market)
        money = Money(show_wei)
        if not live:
            queries = query_service(ctx)
            pending = queries.claimable("live", market)
            if as_json:
                emit({"sent": False, "claimable": [bet_json(b) for b in pending]}, True)
            else:
                print_table(pending, _claim_columns(money, pending), title="claimable per the journal", empty="nothing")
            raise CliError("nothing sent: claiming sends real transactions, pass --live (and confirm, or --yes)")
        if not yes and (as_json or not _interactive()):
            raise CliError("confirmation needed: pass --yes (no terminal to ask on)")
        from bot.app import build_app

        app = build_app(ctx.settings, live=True)
        names = [market] if market else list(app.markets)
        for name in app.markets:  # one live sender per account: a running daemon claims by itself (exit 4 here)
            app.lock_account("claim", name)
        from bot.app import build_reconcilers

        reconcilers = [r for r in build_reconcilers(app) if any(m.name in names for m in r.markets)]
        for rec in reconcilers:
            rec.reconcile()  # what is claimable now, from the chain
        queries = query_service(ctx, app.engine)
        pending = [b for b in queries.claimable("live") if b.market in names]
        if not pending:
            emit({}, as_json, "nothing to claim")
            return
        if not yes:
            print_table(pending, _claim_columns(money, pending), title="to claim")
            click.confirm(f"Send claim transaction(s) for {len(pending)} round(s)?", abort=True)
        report: dict[str, Any] = {}
        for rec in reconcilers:
            from bot.query import to_plain

            report[",".join(m.name for m in rec.markets)] = to_plain(rec.claim())
            rec.reconcile()  # attribute the claims (amounts, gas) to the settled bets
        if as_json:
            emit(report, True)
            return
        _show_claims(report, queries, money)


def _claim_columns(money: Money, rows: list[Any]) -> list[Column]:
    keep = ("market", "epoch", "side", "stake", "outcome", "payout", "when")
    return [c for c in bet_columns(money, rows) if c.header.split(" (")[0] in keep]


def _show_claims(report: dict[str, Any], queries: QueryService, money: Money) -> None:
    sent = {tx for reports in report.values() for r in reports for tx in r.get("sent", [])}
    for reports in report.values():
        for r in reports:
            pairs = [("candidates", str(r.get("candidates", 0))),
                     ("claimed epochs", ", ".join(map(str, r.get("claimed_epochs", []))) or "none"),
                     ("transactions", str(len(r.get("sent", [])))), ("confirmed", str(r.get("confirmed", 0)))]
            if r.get("ineligible"):
                pairs.append(("not claimable (contract)", ", ".join(map(str, r["ineligible"]))))
            if r.get("mismatches"):
                pairs.append(("MISMATCH", "; ".join(r["mismatches"])))
            print_pairs(pairs, title=f"{r.get('market')} {r.get('account')}")
    claims = [c for c in queries.claims(limit=None) if c.tx in sent]
    print_table(claims, [
        Column("market", lambda c: c.market),
        Column("epochs", lambda c: ", ".join(map(str, c.epochs))),
        Column("claimed", lambda c: money(c.claimed_wei, queries.coin(c.market)), "right"),
        Column("gas", lambda c: money(c.gas_wei, queries.coin(c.market)), "right"),
        Column("tx", lambda c: c.tx, drop=1),
    ], title="claim transactions", empty="none sent")


def _through_the_daemon(app: App, req: BetRequest, chain_now: int) -> BetResult:
    """The account is held by a running daemon: journal the bet as a manual intent for it, then wait for its result
    (the daemon signs it through the same caps and lifecycle; nothing is signed here)."""
    from bot.engine.executor import BetResult, await_outcome, hand_over
    from bot.store.journal import IntentState

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
    return sys.stdin.isatty()


def _preview(view: dict[str, Any], coin: Coin, money: Money, live: bool) -> None:
    signal = view.get("signal")
    pairs = [
        ("mode", "LIVE (a real transaction)" if live else "paper (recorded only)"),
        ("side", view["side"]), ("stake", money(view["stake_wei"], coin)),
        ("round", f"{view['status']}, lock in {view['seconds_to_lock']} s"),
        ("bull pool", f"{money(view['bull_pool_wei'], coin)} ({view['bull_multiple']}x)"),
        ("bear pool", f"{money(view['bear_pool_wei'], coin)} ({view['bear_multiple']}x)"),
        ("multiple after our stake", f"{view.get('multiple_after_our_stake')}x"),
        ("payout if it wins", money(view.get("payout_if_win_wei"), coin)),
        ("market minimum", money(view["min_bet_wei"], coin)),
        ("fee", f"{view['fee_bp'] / 100:g} %"),
        ("signal", "none logged" if not signal else f"{signal['topic']} {signal['value']} ({signal['age_s']} s old)"),
    ]
    print_pairs(pairs, title=f"{view['market']} epoch {view['epoch']}")
