"""The REST API through real HTTP against a live daemon on anvil: the token guards every state change; pause from the
API and from ``python main.py pause`` (another process) stops new bets (no new intent in the journal) and resume bets
again; the data routes equal the journal; ``/metrics`` parses with Prometheus' text parser, its landed-bets counter
moves as bets land, and every metric the Grafana dashboard uses is in it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bot.query import QueryService
from tests.api.conftest import MARKET, STAKE, LiveBot, wait_for

pytestmark = [pytest.mark.anvil, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
POSTS = ("/api/pause", "/api/resume", "/api/stop-entry", "/api/bet", "/api/claim")


def scrape(bot: LiveBot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = requests.get(bot.url + "/metrics", timeout=30)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def landed(samples: dict) -> float:
    return samples[("allora_bot_bets_total", (("market", MARKET), ("outcome", "landed")))]


def landed_intents(bot: LiveBot) -> list[int]:
    return [epoch for epoch, state, _ in bot.intents() if state == "landed"]


def resumed(bot: LiveBot) -> None:
    assert bot.post("/api/resume").status_code == 200


def test_bets_land_metrics_move_and_the_reads_equal_the_journal(live_bot: LiveBot) -> None:
    bot = live_bot
    resumed(bot)
    before = landed(scrape(bot))
    count = len(landed_intents(bot))
    wait_for(lambda: len(landed_intents(bot)) >= count + 2, 120, "two more bets to land")
    samples = wait_for(lambda: (s := scrape(bot)) and landed(s) >= before + 2 and s, 30, "the counter to move")
    assert landed(samples) - before >= 2
    assert samples[("allora_bot_bet_latency_seconds_count", ())] >= 2
    assert samples[("allora_bot_daemon_state", (("state", "running"),))] == 1
    assert samples[("allora_bot_up", ())] == 1
    assert samples[("allora_bot_last_round", (("market", MARKET),))] >= 1
    assert any(name == "allora_bot_rpc_requests_total" and value > 0 for (name, _), value in samples.items())
    balance = samples[("allora_bot_balance_wei", (("account", bot.app.account_address()),))]
    assert balance > 0
    # every metric name the Grafana dashboard uses is served
    dashboard = (ROOT / "deploy/grafana/allora-bot.json").read_text()
    used = set(re.findall(r"\ballora_bot_[a-z_]+", dashboard))
    served = {name for name, _ in samples}
    assert used and used <= served, used - served

    # the data routes show the journal's bets, exactly (wei) and in coins
    status = bot.get("/api/status")
    assert (status["mode"], status["state"], status["account"]) == ("live", "running", bot.app.account_address())
    assert [m["name"] for m in status["markets"]] == [MARKET]
    bets = bot.get("/api/bets", mode="live", limit=1000)["bets"]
    journal = {epoch for epoch, state, _ in bot.intents() if state == "landed"}
    assert journal <= {b["epoch"] for b in bets}
    for b in bets:
        if b["state"] == "landed":
            assert (b["amount_wei"], b["amount"], b["coin"], b["side"]) == (STAKE, "0.001", "ETH", "bull")
    query = QueryService(bot.app.engine)
    assert [(b.epoch, b.amount_wei, b.outcome) for b in query.bets(mode="live", limit=1000)] == [
        (b["epoch"], b["amount_wei"], b["outcome"]) for b in bets]
    markets = bot.get("/api/markets")["markets"]
    [row] = markets
    assert row["error"] is None and row["epoch"] >= 1 and row["coin"] == "ETH"
    assert row["total_pool_wei"] == row["bull_pool_wei"] + row["bear_pool_wei"]
    assert row["decision"]["action"] == "bet" and row["decision"]["amount_wei"] == STAKE
    assert row["decision"]["reason"]
    pnl = bot.get("/api/pnl")
    assert pnl["mode"] == "live"
    assert isinstance(bot.get("/api/settlements")["settlements"], list)
    assert isinstance(bot.get("/api/inferences")["inferences"], list)
    health = bot.get("/api/health")
    assert health["ok"] is True and health["daemon_running"] is True and health["rpc"]
    assert bot.token not in json.dumps(bot.get("/api/logs", limit=1000))


def test_every_state_change_needs_the_token(live_bot: LiveBot) -> None:
    bot = live_bot
    for path in POSTS:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": bot.token}):
            reply = requests.post(bot.url + path, json={}, headers=headers, timeout=30)
            assert reply.status_code == 401, (path, headers, reply.status_code)
            assert reply.headers["www-authenticate"] == "Bearer"
    assert bot.get("/api/status")["state"] in ("running", "paused")


def test_pause_from_the_api_and_from_the_cli_stops_new_bets_and_resume_bets_again(live_bot: LiveBot) -> None:
    bot = live_bot
    resumed(bot)
    wait_for(lambda: landed_intents(bot), 120, "a first bet")

    # pause through the API: no new intent in the journal while paused
    reply = bot.post("/api/pause", {"reason": "checking the oracle"})
    assert reply.status_code == 200 and reply.json()["state"] == "paused"
    paused_at = bot.epoch()
    bot.wait_lock_passed(paused_at + 1)
    assert [e for e, _, _ in bot.intents() if e > paused_at] == []
    status = bot.get("/api/status")
    assert (status["state"], status["reason"], status["by"], status["entries_allowed"]) == (
        "paused", "checking the oracle", "api", False)
    assert "paused" in bot.get("/api/markets")["markets"][0]["decision"]["reason"]
    skips = scrape(bot)
    assert skips[("allora_bot_skips_total", (("market", MARKET), ("reason", "paused")))] >= 1
    assert skips[("allora_bot_daemon_state", (("state", "paused"),))] == 1

    # resume: it bets again
    resumed(bot)
    resumed_at = bot.epoch()
    wait_for(lambda: [e for e in landed_intents(bot) if e > resumed_at], 120, "a bet after resume")

    # pause from another process: `python main.py pause`
    cli = subprocess.run([sys.executable, "main.py", "-c", str(bot.config_path), "pause", "--reason", "by hand"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert "paused" in cli.stdout
    paused_at = bot.epoch()
    wait_for(lambda: bot.get("/api/status")["state"] == "paused", 30, "the daemon to see the pause")
    bot.wait_lock_passed(paused_at + 1)
    assert [e for e, _, _ in bot.intents() if e > paused_at] == []
    assert bot.get("/api/status")["by"] == "cli"
    history = bot.get("/api/control/history")["changes"]
    assert [c["by"] for c in history[:2]] == ["cli", "api"]

    # stop-entry: no new bets either; resume clears it
    assert bot.post("/api/stop-entry").json()["stop_entry"] is True
    resumed(bot)
    resumed_at = bot.epoch()
    wait_for(lambda: [e for e in landed_intents(bot) if e > resumed_at], 120, "a bet after the second resume")


def test_a_manual_bet_goes_through_the_journal_and_the_daemon(live_bot: LiveBot) -> None:
    bot = live_bot
    # paused, so the daemon's own bet does not take the round
    assert bot.post("/api/pause", {"reason": "manual betting"}).status_code == 200
    bot.wait_lock_passed(bot.epoch())
    bad = bot.post("/api/bet", {"market": MARKET, "side": "sideways", "amount": "0.002"})
    assert bad.status_code == 400
    assert bot.post("/api/bet", {"market": MARKET, "side": "bear", "amount": "0.0000000001"}).status_code == 400
    market = bot.app.markets[MARKET]

    def open_round() -> int | None:
        epoch = market.current_epoch()
        rnd = market.round(epoch)
        return epoch if rnd.lock_timestamp - market.chain_time() > 4 else None

    epoch = wait_for(open_round, 60, "a round with time to bet")
    reply = bot.post("/api/bet", {"market": MARKET, "side": "bear", "amount": "0.002", "epoch": epoch})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["state"], body["side"], body["amount_wei"], body["amount"], body["epoch"]) == (
        "landed", "bear", 2 * 10**15, "0.002", epoch)
    assert (epoch, "landed", "manual") in bot.intents()
    assert market.ledger(epoch, bot.app.account_address()).amount == 2 * 10**15
    again = bot.post("/api/bet", {"market": MARKET, "side": "bull", "amount": "0.002", "epoch": epoch})
    assert again.status_code == 409  # one bet per round, as on the CLI
    resumed(bot)
