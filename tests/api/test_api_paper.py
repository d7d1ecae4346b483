"""The API of a paper daemon: its bets are paper fills in the journal (mode paper, landed with a ``paper:`` attempt,
counted in /metrics), a manual bet through the API is a paper fill through the same journal and executor (one per
round, nothing on chain), and there is nothing to claim."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import MARKET, start_bot, wait_for

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


def test_paper_daemon_manual_bet_and_no_claim(tmp_path) -> None:
    with ExitStack() as stack:
        bot = start_bot(stack, tmp_path, mode="paper")
        wait_for(lambda: [i for i in bot.intents() if i[1] == "landed"], 120, "a paper fill")
        assert bot.get("/api/status")["mode"] == "paper"
        bets = bot.get("/api/bets", limit=1000)["bets"]
        assert bets and {b["mode"] for b in bets} == {"paper"}
        assert all(b["tx"] is None or b["tx"].startswith("paper:") for b in bets)
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(bot.get_text("/metrics")) for s in f.samples}
        assert samples[("allora_bot_bets_total", (("market", MARKET), ("outcome", "landed")))] >= 1

        assert bot.post("/api/pause", {"reason": "manual"}).status_code == 200
        bot.wait_lock_passed(bot.epoch())
        market = bot.app.markets[MARKET]
        epoch = wait_for(lambda: (e := market.current_epoch()) and market.round(e).lock_timestamp
                         - market.chain_time() > 3 and e, 60, "an open round")
        reply = bot.post("/api/bet", {"market": MARKET, "side": "bear", "amount": "0.003"})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert (body["state"], body["mode"], body["amount_wei"], body["epoch"]) == ("landed", "paper", 3 * 10**15,
                                                                                     epoch)
        assert (epoch, "landed", "manual") in bot.intents()
        assert market.ledger(epoch, bot.app.account_address()).amount == 0  # nothing on chain
        assert bot.post("/api/bet", {"market": MARKET, "side": "bull", "amount": "0.003"}).status_code == 409
        assert bot.post("/api/bet", {"market": "nope", "side": "bull", "amount": "0.003"}).status_code == 400
        claim = bot.post("/api/claim")
        assert claim.status_code == 409 and "paper" in claim.json()["detail"]
        assert requests.post(bot.url + "/api/claim", timeout=30).status_code == 401
