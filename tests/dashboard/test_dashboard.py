"""The dashboard in a real browser (Playwright driving Debian's chromium) against a running devnet bot: a live daemon
subprocess on anvil with the API on. The numbers the page shows equal the API's JSON and the journal's rows (equity,
bets won/lost, net PnL, open bets and their stakes, the live round); pressing Pause with the API token pauses the
daemon (API and database say so, the next decision is a skip); a screenshot goes to artifacts/dashboard.png."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from bot.coins import format_units
from bot.engine.control import Control, DaemonState
from bot.store.db import make_engine, session_factory, session_scope
from bot.store.journal import Intent
from bot.store.outcomes import Settlement
from tests.notify.devbot import ROOT, running_bot

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "dash-test-token-5f1c0a9e77"
pytestmark = [pytest.mark.anvil, pytest.mark.slow]
if not CHROMIUM.exists():
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise RuntimeError("REQUIRE_BROWSER=1 but /usr/bin/chromium is missing")
    pytestmark.append(pytest.mark.skip(reason="/usr/bin/chromium not installed"))
URL = re.compile(r"dashboard, API and /metrics on (http://127\.0\.0\.1:\d+)/")


def _get(base: str, path: str) -> dict:
    r = requests.get(base + path, timeout=10)
    r.raise_for_status()
    return r.json()


def _journal(database_url: str) -> dict:
    """What the journal says, straight from its tables (live mode): settled net PnL, won/lost, open intents."""
    sessions = session_factory(make_engine(database_url, create=False))
    with session_scope(sessions) as s:
        settled = [r for r in s.scalars(select(Settlement).where(Settlement.mode == "live"))]
        intents = list(s.scalars(select(Intent).where(Intent.mode == "live")))
    final = [r for r in settled if r.final]
    with_row = {(r.market, r.epoch) for r in settled}
    reverted = [i for i in intents if i.state == "reverted" and (i.market, i.epoch) not in with_row]
    open_ = {i.epoch: i.amount_wei for i in intents if (i.market, i.epoch) not in {(r.market, r.epoch) for r in final}
             and i.state in ("landed", "sent", "signed", "intended")}
    return {
        "equity_wei": sum(r.net_pnl_wei for r in final) - sum(i.gas_cost_wei for i in reverted),
        "won": sum(r.status == "won" for r in final), "lost": sum(r.status in ("lost", "house-won") for r in final),
        "open": open_,
    }


def _snapshot(base: str) -> tuple:
    """The API's answers that should not move in a quiet moment (a round's clock fields always move)."""
    markets = [{k: m[k] for k in ("name", "epoch", "bull_pool", "bear_pool", "total_pool")}
               for m in _get(base, "/api/markets")["markets"]]
    return _get(base, "/api/pnl?mode=live"), _get(base, "/api/bets?mode=live&settled=false"), markets


def _page_numbers(page) -> dict:
    summary = page.locator("#summary tbody tr[data-mode=live] td").all_inner_texts()
    open_rows = page.locator("#open-bets tbody tr[data-epoch]")
    open_bets = {int(r.get_attribute("data-epoch")): r.locator("td").nth(3).inner_text()
                 for r in open_rows.all()}
    round_cells = page.locator("#rounds tbody tr[data-market] td").all_inner_texts()
    return {"equity": page.locator("#equity-last").inner_text(), "summary": summary, "open": open_bets,
            "round": round_cells, "state": page.locator("#state").get_attribute("data-state")}


def _fresh(page) -> dict:
    """The page's numbers after its next complete refresh."""
    n = int(page.locator("body").get_attribute("data-loaded") or 0)
    page.wait_for_function(f"Number(document.body.dataset.loaded || 0) > {n}", timeout=20_000)
    return _page_numbers(page)


def test_dashboard_shows_the_api_and_journal_numbers_and_pauses(tmp_path):
    from playwright.sync_api import sync_playwright

    config = {"api": {"enabled": True, "port": 0}}
    with running_bot(tmp_path, interval=8, rounds=10, config=config, env={"ALLORA_BOT_API_TOKEN": TOKEN}) as bot:
        bot.wait_output("/metrics on ")
        base = URL.search(bot.out()).group(1)  # type: ignore[union-attr]
        deadline = time.monotonic() + 180
        while len(_get(base, "/api/pnl?mode=live")["equity"]) < 2 or not _get(base, "/api/bets?mode=live&settled=false")["bets"]:
            assert time.monotonic() < deadline and bot.proc.poll() is None, bot.out()[-3000:]
            time.sleep(1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(base + "/")
            page.wait_for_function("Number(document.body.dataset.loaded || 0) >= 1", timeout=20_000)
            for attempt in range(15):  # the bot keeps betting and settling: compare one quiet moment of all three
                before = _snapshot(base)
                shown = _fresh(page)
                journal = _journal(bot.database_url)
                after = _snapshot(base)
                if before == after:
                    break
            else:
                pytest.fail("the bot never stood still long enough to compare")
            pnl, open_bets, markets = after
            last = pnl["equity"][-1]
            assert shown["equity"] == f"{last['equity']} {last['coin']}" == f"{format_units(journal['equity_wei'], 18)} ETH"
            live = next(s for s in pnl["summary"] if s["mode"] == "live")
            mode, coin, bets, n_open, won, lost, hit, staked, net = shown["summary"]
            assert (mode, coin, int(won), int(lost)) == ("live", "ETH", live["won"], live["lost"])
            assert (int(won), int(lost)) == (journal["won"], journal["lost"])
            assert (int(bets), int(n_open), staked, net) == (live["bets"], live["open"], live["staked"], live["net_pnl"])
            assert shown["open"] == {b["epoch"]: f"{b['amount']} ETH" for b in open_bets["bets"]}
            assert shown["open"] == {e: f"{format_units(w, 18)} ETH" for e, w in journal["open"].items()}
            m = markets[0]
            assert shown["round"][:6][1] == str(m["epoch"])
            assert shown["round"][3:6] == [f"{m['bull_pool']} ETH", f"{m['bear_pool']} ETH", f"{m['total_pool']} ETH"]
            assert shown["state"] == "running"

            page.click("#pause")  # no token yet: nothing sent
            page.wait_for_function("document.getElementById('control-msg').textContent.includes('token first')")
            page.fill("#token", "not-the-token")
            page.click("#token-form button[type=submit]")
            page.click("#pause")  # a wrong token: the API refuses, the daemon runs on
            page.wait_for_function("document.getElementById('control-msg').textContent.includes('refused')")
            assert _get(base, "/api/status")["state"] == "running"
            page.fill("#token", TOKEN)
            page.click("#token-form button[type=submit]")
            page.click("#pause")
            page.wait_for_selector("#state[data-state=paused]", timeout=20_000)
            assert page.evaluate("sessionStorage.getItem('allora-bot-api-token')") == TOKEN
            status = _get(base, "/api/status")
            assert status["state"] == "paused" and "dashboard" in status["reason"]
            assert Control(make_engine(bot.database_url, create=False)).read().state is DaemonState.PAUSED
            bot.wait_log(lambda t: re.search(r"round \d+: skip \(.*paused", t) is not None, timeout=60)
            _fresh(page)
            artifacts = ROOT / "artifacts"
            artifacts.mkdir(exist_ok=True)
            page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
            browser.close()
        code = bot.stop()
    assert code == 0
    assert not [e for e in errors if "401" not in e], errors  # the refused POST is the only error the page saw
    assert (ROOT / "artifacts" / "dashboard.png").stat().st_size > 10_000
