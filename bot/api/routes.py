"""The FastAPI app: JSON routes over the query service, the control state and the daemon (shapes: ``bot.api``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from bot import events as ev
from bot.api import API_VERSION
from bot.api.auth import bearer_guard
from bot.api.logbuffer import LogBuffer
from bot.coins import Coin, format_units, parse_units
from bot.config import Settings
from bot.domain import Position
from bot.engine.control import Control, ControlStatus
from bot.engine.manual import BetOutcome, BetRefused, ManualBet
from bot.errors import InputError, OperationalError, TemporaryError, one_line
from bot.markets.base import PredictionMarket
from bot.metrics import CONTENT_TYPE, Metrics
from bot.query import QueryService, to_plain

STATIC = Path(__file__).resolve().parent / "static"


class DecisionBoard:
    """The daemon's latest decision per market (a bus subscriber)."""

    def __init__(self) -> None:
        self._latest: dict[str, ev.Decision] = {}
        self._lock = threading.Lock()

    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.Decision):
            with self._lock:
                self._latest[event.market] = event

    def latest(self, market: str) -> ev.Decision | None:
        with self._lock:
            return self._latest.get(market)


@dataclass
class ApiContext:
    """What the routes read and steer; built by the composition root (``bot.app``)."""

    settings: Settings
    control: Control
    query: QueryService
    mode: str
    account: str
    markets: Mapping[str, PredictionMarket]
    coins: Mapping[str, Coin]
    chain_now: Callable[[], float]
    token: str | None
    metrics: Metrics | None = None
    decisions: DecisionBoard = field(default_factory=DecisionBoard)
    logs: LogBuffer = field(default_factory=LogBuffer)
    stats: Callable[[], dict[str, Any]] = dict
    health: Callable[[], dict[str, Any]] = dict
    running: Callable[[], bool] = lambda: True
    place_bet: Callable[[ManualBet], BetOutcome] | None = None
    claim: Callable[[], Any] | None = None
    started_at: float = field(default_factory=time.time)
    static_dir: Path = STATIC


class PauseBody(BaseModel):
    reason: str = Field(default="paused from the API", max_length=500)


class BetBody(BaseModel):
    market: str = Field(max_length=64)
    side: str = Field(max_length=8)
    amount: str = Field(max_length=80)
    epoch: int | None = Field(default=None, ge=1)


def _coin_texts(data: dict[str, Any], coin: Coin) -> dict[str, Any]:
    """``x_wei`` -> also ``x`` as exact coin text."""
    out = dict(data)
    for key, value in data.items():
        if key.endswith("_wei") and isinstance(value, int) and not isinstance(value, bool):
            out[key.removesuffix("_wei")] = format_units(value, coin.decimals)
    return out


def _control_json(status: ControlStatus) -> dict[str, Any]:
    return {"state": status.state.value, "stop_entry": status.stop_entry, "entries_allowed": status.entries_allowed,
            "reason": status.reason, "by": status.by, "changed_at": status.at}


def create_api(ctx: ApiContext) -> FastAPI:  # noqa: C901 — one nested function per route
    app = FastAPI(title="allora-bot", version=str(API_VERSION), docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json")
    guard = Depends(bearer_guard(ctx.token))

    def coin(market: str) -> Coin:
        return ctx.coins.get(market) or ctx.query.coin(market)

    def bet_json(bet: Any) -> dict[str, Any]:
        return _coin_texts(to_plain(bet), coin(bet.market))

    # -- reads ------------------------------------------------------------------------------------------------------
    @app.get("/api/status")
    def status() -> dict[str, Any]:
        markets = []
        for name in ctx.markets:
            cfg = ctx.settings.market(name)
            c = coin(name)
            markets.append({"name": name, "chain": cfg.chain, "dialect": cfg.dialect, "address": cfg.address,
                            "coin": c.symbol, "decimals": c.decimals, "topic": cfg.topic})
        control = ctx.control.status()
        state = _control_json(control)
        if not ctx.running():
            state["state"] = "stopped"
        return {**state, "mode": ctx.mode, "account": ctx.account, "started_at": ctx.started_at,
                "uptime_seconds": time.time() - ctx.started_at, "markets": markets, "stats": ctx.stats(),
                "api_version": API_VERSION}

    @app.get("/api/markets")
    def markets() -> dict[str, Any]:
        out = []
        for name, market in ctx.markets.items():
            c = coin(name)
            row: dict[str, Any] = {"name": name, "coin": c.symbol, "decimals": c.decimals, "error": None}
            try:
                now = ctx.chain_now()
                epoch = market.current_epoch()
                rnd = market.round(epoch)
                row |= _coin_texts({
                    "epoch": epoch, "start_timestamp": rnd.start_timestamp, "lock_timestamp": rnd.lock_timestamp,
                    "chain_time": now, "seconds_to_lock": max(0.0, rnd.lock_timestamp - now) if rnd.started else None,
                    "bettable": bool(rnd.started and now < rnd.lock_timestamp),
                    "bull_pool_wei": rnd.bull_amount, "bear_pool_wei": rnd.bear_amount,
                    "total_pool_wei": rnd.total_amount,
                }, c)
            except (TemporaryError, OperationalError, ValueError) as exc:
                row["error"] = one_line(exc)
            decision = ctx.decisions.latest(name)
            row["decision"] = None if decision is None else _coin_texts({
                "epoch": decision.epoch, "action": decision.action, "side": decision.side,
                "amount_wei": decision.amount_wei, "reason": decision.reason, "p_up": decision.p_up,
                "at": decision.at}, c)
            out.append(row)
        return {"markets": out}

    @app.get("/api/bets")
    def bets(mode: str | None = Query(default=None, pattern="^(paper|live)$"), market: str | None = None,
             settled: bool | None = None, limit: int = Query(default=50, ge=1, le=1000)) -> dict[str, Any]:
        return {"bets": [bet_json(b) for b in ctx.query.bets(mode=mode, market=market, settled=settled,
                                                             limit=limit)]}

    @app.get("/api/settlements")
    def settlements(mode: str | None = Query(default=None, pattern="^(paper|live)$"), market: str | None = None,
                    limit: int = Query(default=50, ge=1, le=1000)) -> dict[str, Any]:
        rows = ctx.query.settlements(mode=mode, market=market, limit=limit)
        return {"settlements": [bet_json(b) for b in rows]}

    @app.get("/api/pnl")
    def pnl(mode: str | None = Query(default=None, pattern="^(paper|live)$")) -> dict[str, Any]:
        mode = mode or ctx.mode
        rows = [_coin_texts(to_plain(r), coin(r.market)) for r in ctx.query.pnl(mode=mode)]
        default = next(iter(ctx.coins.values()), None) or ctx.query.default_coin
        summary = [_coin_texts(to_plain(s), default) for s in ctx.query.summary(mode=mode)]
        equity = [_coin_texts(to_plain(p), coin(p.market)) for p in ctx.query.equity_curve(mode)]
        return {"mode": mode, "rows": rows, "summary": summary, "equity": equity}

    @app.get("/api/inferences")
    def inferences(topic_id: int | None = None, accepted: bool | None = None,
                   limit: int = Query(default=50, ge=1, le=1000)) -> dict[str, Any]:
        return {"inferences": to_plain(ctx.query.inferences(topic_id=topic_id, accepted=accepted, limit=limit))}

    @app.get("/api/accuracy")
    def accuracy() -> Any:
        return to_plain(ctx.query.accuracy(ctx.settings))

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        data = dict(ctx.health())
        control = ctx.control.status()
        running = ctx.running()
        data.setdefault("ok", running)
        data["ok"] = bool(data["ok"]) and running
        return {**data, "state": control.state.value if running else "stopped", "daemon_running": running}

    @app.get("/api/logs")
    def logs(limit: int = Query(default=200, ge=1, le=100_000)) -> dict[str, Any]:
        return {"lines": [to_plain(line) for line in ctx.logs.lines(limit)]}

    @app.get("/api/control/history")
    def control_history(limit: int = Query(default=20, ge=1, le=500)) -> dict[str, Any]:
        return {"changes": [{"state": c.state.value, "stop_entry": c.stop_entry, "reason": c.reason, "by": c.by,
                             "at": c.at} for c in ctx.control.history(limit)]}

    @app.get("/metrics")
    def metrics() -> Response:
        if ctx.metrics is None:
            raise HTTPException(404, "metrics are not enabled")
        return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)

    # -- control (token) --------------------------------------------------------------------------------------------
    @app.post("/api/pause", dependencies=[guard])
    def pause(body: PauseBody | None = None) -> dict[str, Any]:
        return _control_json(ctx.control.pause((body or PauseBody()).reason, by="api"))

    @app.post("/api/resume", dependencies=[guard])
    def resume() -> dict[str, Any]:
        return _control_json(ctx.control.resume(by="api"))

    @app.post("/api/stop-entry", dependencies=[guard])
    def stop_entry() -> dict[str, Any]:
        return _control_json(ctx.control.stop_entry(by="api"))

    @app.post("/api/bet", dependencies=[guard])
    def bet(body: BetBody) -> JSONResponse:
        if ctx.place_bet is None:
            raise HTTPException(409, "manual bets are not available in this process")
        if body.market not in ctx.markets:
            raise HTTPException(400, f"unknown or disabled market {body.market!r} (enabled: {', '.join(ctx.markets)})")
        c = coin(body.market)
        try:
            side = Position.parse(body.side)
            stake = parse_units(body.amount, c.decimals)
        except (ValueError, InputError) as exc:
            raise HTTPException(400, one_line(exc)) from None
        try:
            outcome = ctx.place_bet(ManualBet(body.market, side, stake, body.epoch))
        except InputError as exc:
            raise HTTPException(400, one_line(exc)) from None
        except BetRefused as exc:
            raise HTTPException(409, one_line(exc)) from None
        except TemporaryError as exc:
            raise HTTPException(503, one_line(exc)) from None
        result = outcome.result
        data = _coin_texts({"intent_id": result.intent_id, "state": result.state.value, "reason": result.reason,
                            "tx": result.tx_hash, "market": body.market, "epoch": outcome.epoch,
                            "side": side.label, "amount_wei": stake, "coin": c.symbol, "mode": ctx.mode}, c)
        code = 200 if result.state.value in ("landed", "paper", "sent") else 409
        return JSONResponse(data, status_code=code)

    @app.post("/api/claim", dependencies=[guard])
    def claim() -> dict[str, Any]:
        if ctx.claim is None:
            raise HTTPException(409, "nothing to claim in paper mode" if ctx.mode == "paper"
                                else "claims are not available in this process")
        try:
            return {"claims": to_plain(ctx.claim())}
        except TemporaryError as exc:
            raise HTTPException(503, one_line(exc)) from None

    if ctx.static_dir.is_dir():
        app.mount("/", StaticFiles(directory=ctx.static_dir, html=True), name="static")
    return app
