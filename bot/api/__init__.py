"""The daemon's REST API, dashboard and Prometheus ``/metrics`` — one FastAPI app served by uvicorn in a thread.

Served by the daemon when ``api.enabled`` (``bot.app.build_runtime`` starts it; ``Runtime.api_url`` is its URL).
Bound to ``api.host`` (127.0.0.1 by default). Every state-changing route (POST) needs
``Authorization: Bearer <token>`` where the token is read from the environment variable ``api.token_env`` names (never
logged); without it, or with a wrong one: 401 ``{"detail": "..."}``. With no token configured every POST is refused
(401) and the GET routes still work. GET routes need no token.

Amounts: every ``*_wei`` field is an exact integer in the JSON text (may exceed 2**53: JavaScript's ``JSON.parse`` rounds
it); every amount also comes as exact coin text in the field without the suffix (``stake`` next to ``stake_wei``,
``"0.01"``) and the market's ``coin`` symbol — show those. Times are unix seconds (UTC); ``null`` when unknown.

Routes (JSON) and their shapes:

GET /api/status
    {"state": "running"|"paused"|"stopped", "stop_entry": bool, "entries_allowed": bool, "reason": str, "by": str,
     "changed_at": float, "mode": "paper"|"live", "account": "0x...", "started_at": float, "uptime_seconds": float,
     "markets": [{"name", "chain", "dialect", "address", "coin", "decimals", "topic"}],
     "stats": {"rounds_seen", "decisions", "bets": {state: n}, "skips", "errors", "needs_human", "last_error",
               "p99_latency_ms", "heartbeats"}, "api_version": 1}
GET /api/markets
    {"markets": [{"name", "coin", "decimals", "epoch", "start_timestamp", "lock_timestamp", "chain_time",
                  "seconds_to_lock", "bettable": bool, "bull_pool_wei", "bear_pool_wei", "total_pool_wei",
                  "bull_pool", "bear_pool", "total_pool", "error": str|null,
                  "decision": null | {"epoch", "action": "bet"|"skip", "side": "bull"|"bear"|null, "amount_wei",
                                      "amount", "reason", "p_up": float|null, "at"}}]}
    (the round is read from the chain; ``decision`` is the daemon's latest decision on that market)
GET /api/bets?mode=paper|live&market=&settled=true|false&limit=50
    {"bets": [Bet]} — Bet = bot.query.Bet as JSON: market, epoch, account, mode, origin, side, amount_wei, coin,
    decimals, settled, outcome (open|won|lost|house-won|refund|reverted), payout_wei, gas_wei, net_pnl_wei, tx,
    claimable, claimed, claim_tx, placed_at, settled_at, lock_ts, strategy, p_up, state, intent_id; plus the coin texts
    amount, payout, gas, net_pnl
GET /api/settlements?mode=&market=&limit=50      {"settlements": [Bet]} (settled bets only)
GET /api/pnl?mode=paper|live (default: the daemon's mode)
    {"mode", "rows": [PnlRow + coin texts staked, returned, gas, net_pnl], "summary": [BetSummary + coin texts],
     "equity": [{"at", "mode", "market", "epoch", "coin", "net_pnl_wei", "equity_wei", "net_pnl", "equity"}]}
GET /api/inferences?topic_id=&accepted=true|false&limit=50
    {"inferences": [{"id", "source", "topic_id", "topic_name", "timestamp", "fetched_at", "accepted",
                     "verdict": "accepted"|reason, "detail", "value", "signer", "block_height"}]}
GET /api/accuracy          bot.truth.accuracy.AccuracyReport as JSON (hit rates per topic, vs baselines)
GET /api/health
    {"ok": bool, "state": str, "daemon_running": bool, "heartbeat_age_seconds": float|null,
     "rpc": [{"url", "healthy", "ok", "failures", "last_error", ...}], "allora": {...}, "errors": int,
     "last_error": str}
GET /api/logs?limit=200    {"lines": [{"at": float, "level": str, "logger": str, "message": str}]} oldest first,
                           secrets redacted
GET /api/control/history?limit=20  {"changes": [{"state", "stop_entry", "reason", "by", "at"}]} newest first

POST /api/pause      body {"reason": str} (optional)    -> the new control status (as in /api/status, first 6 keys)
POST /api/resume     (no body)                          -> the new control status
POST /api/stop-entry (no body)                          -> the new control status
POST /api/bet        body {"market": str, "side": "bull"|"bear", "amount": "0.01" (coin text) or "1000wei",
                           "epoch": int (optional: the current round)}
    -> 200 {"intent_id", "state", "reason", "tx", "market", "epoch", "side", "amount_wei", "amount", "coin", "mode"}
       through the same journal, spending caps and risk limits as ``bet`` on the CLI (paper: filled by the daemon's
       paper executor; live: handed over to the daemon's executor like ``bet --live`` and awaited);
       400 bad input; 409 refused (risk limit, round not bettable, already a bet this round, state not landed/paper/sent)
POST /api/claim      (no body) -> {"claims": [...]} (live mode; 409 in paper mode: nothing to claim)

GET /metrics   Prometheus text format (``bot.metrics``)
GET /          the dashboard (static files in ``bot/api/static/``: index.html and its scripts)
"""

from __future__ import annotations

API_VERSION = 1
