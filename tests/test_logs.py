"""The log file of a real daemon (a subprocess on a devnet with our market, a keeper and the local Allora service):
``--logfile`` at the default level has one line per decision (bet with side and stake in the coin, or skip with its
reason) and one per settled round with its PnL in the coin — equal to the journal to the wei; rotation keeps the
configured number of files; the secrets the process read are masked in the file."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from bot.coins import format_units
from bot.logs import ActivityLog, add_logfile
from bot.store.db import make_engine, session_factory, session_scope
from bot.store.journal import Intent
from bot.store.outcomes import Settlement
from tests.notify.devbot import running_bot

pytestmark = [pytest.mark.anvil, pytest.mark.slow]
BET = re.compile(r"btc-demo round (\d+): bet (BULL|BEAR) ([0-9.]+) ETH \((.+)\) \[live\]")
SKIP = re.compile(r"btc-demo round (\d+): skip \((.+)\) \[live\]")
SETTLED = re.compile(r"btc-demo round (\d+) settled: PnL ([+-]?[0-9.]+) ETH")


def test_daemon_logfile_has_decisions_and_settlements_in_coins(tmp_path):
    with running_bot(tmp_path, interval=8, rounds=8) as bot:
        bot.wait_output("daemon running")
        text = bot.wait_log(lambda t: len(SETTLED.findall(t)) >= 2 and len(BET.findall(t)) >= 3, timeout=150)
        code = bot.stop()
    assert code == 0
    text = bot.logfile.read_text()
    bets = {int(e): (side, amount) for e, side, amount, _ in BET.findall(text)}
    skips = {int(e): reason for e, reason in SKIP.findall(text)}
    assert bets and not set(bets) & set(skips)  # one decision per round
    assert all(reason.strip() for reason in skips.values())
    engine = make_engine(bot.database_url)
    with session_scope(session_factory(engine)) as s:
        intents = {i.epoch: i for i in s.scalars(select(Intent)) if i.origin == "daemon"}
    for epoch, (side, amount) in bets.items():
        assert epoch in intents, (epoch, sorted(intents))
        assert amount == format_units(intents[epoch].amount_wei, 18)  # the stake in coins, exactly the journal's
        assert side == ("BULL" if intents[epoch].position == 0 else "BEAR")
    settled = {int(e): p for e, p in SETTLED.findall(text)}
    assert settled and set(settled) <= set(bets) and len(SETTLED.findall(text)) == len(settled)  # once per round
    with session_scope(session_factory(engine)) as s:
        rows = {r.epoch: r for r in s.scalars(select(Settlement).where(Settlement.mode == "live"))}
    for epoch, pnl in settled.items():
        row = rows[epoch]
        before_claim = row.payout_wei - row.stake_wei - row.bet_gas_wei
        assert pnl.lstrip("+") in {format_units(before_claim, 18), format_units(row.net_pnl_wei, 18)}, (epoch, pnl)
        assert row.status in ("won", "lost", "house-won", "refund")
    assert "ALLORA_BOT_PRIVATE_KEY" not in text and bot.world.bot_key[2:] not in text


def test_rotation_keeps_the_configured_count(tmp_path):
    logger = logging.getLogger("tests.rotation")
    logger.propagate = False
    handler = add_logfile(tmp_path / "r.log", max_bytes=2000, backups=2)
    logging.getLogger().removeHandler(handler)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for i in range(200):
            logger.info("line %03d %s", i, "x" * 40)
    finally:
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["r.log", "r.log.1", "r.log.2"]
    assert all((tmp_path / f).stat().st_size <= 2000 for f in files)
    assert "line 199" in (tmp_path / "r.log").read_text()
    assert (tmp_path / "r.log").stat().st_mode & 0o077 == 0


def test_activity_lines_are_exact_from_wei(caplog):
    from bot.coins import Coin
    from bot.events import Decision, RoundSettled

    caplog.set_level(logging.INFO, logger="bot.activity")
    activity = ActivityLog({"m": Coin("USDT", 6)})
    activity(Decision(market="m", epoch=3, action="bet", side="bear", amount_wei=1_000_001, coin="USDT",
                      reason="edge 0.04", p_up=0.31, mode="paper"))
    activity(Decision(market="m", epoch=4, action="skip", side=None, amount_wei=0, coin="USDT", reason="no signal"))
    activity(RoundSettled(market="m", epoch=3, pnl_wei=-1_000_001, coin="USDT"))
    assert [r.getMessage() for r in caplog.records] == [
        "m round 3: bet BEAR 1.000001 USDT (edge 0.04, p_up 0.310) [paper]",
        "m round 4: skip (no signal) [paper]",
        "m round 3 settled: PnL -1.000001 USDT",
    ]
