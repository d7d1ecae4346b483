"""A Telegram /pause pauses a running daemon (a real subprocess betting live on anvil), through the local Bot API
server: a /pause from another chat is ignored and the daemon goes on betting; from the configured chat it pauses
(control state in the database, no bet after it), the reply and the event notification come back to that chat, and
the bot token is in no output or file the daemon wrote. The webhook channel gets the same events."""

from __future__ import annotations

import re

import pytest

from bot.engine.control import Control, DaemonState
from bot.store.db import make_engine
from devkit.botapi import BotApiServer, WebhookReceiver
from tests.notify.devbot import running_bot

pytestmark = [pytest.mark.anvil, pytest.mark.slow]
TOKEN = "987654321:AAF-daemon-test-token-Qw8eR5tY2uI0oP"
CHAT = 777
HOOK_PATH = "api/webhooks/1234567/hookSecretPart-9xQ"
BET = re.compile(r"btc-demo round (\d+): bet ")


def test_telegram_pause_from_configured_chat_only(tmp_path):
    with BotApiServer(TOKEN) as telegram, WebhookReceiver() as hook:
        notify = {"notify": {"telegram": {"enabled": True, "chat_id": CHAT, "api_base": telegram.api_base,
                                          "poll_timeout_seconds": 1}, "webhook": {"enabled": True}}}
        env = {"ALLORA_BOT_TELEGRAM_TOKEN": TOKEN, "ALLORA_BOT_WEBHOOK_URL": hook.url("/" + HOOK_PATH)}
        with running_bot(tmp_path, config=notify, env=env) as bot:
            telegram.wait_for(lambda sent: any("daemon started (live)" in m.text for m in sent), timeout=120)
            control = Control(make_engine(bot.database_url))
            bot.wait_log(lambda t: len(BET.findall(t)) >= 1)
            telegram.push_text(31337, "/pause")  # a stranger's chat
            telegram.push_text(CHAT, "/status")
            telegram.wait_for(lambda sent: any(m.text.startswith("state: running") for m in sent))
            assert control.read().state is DaemonState.RUNNING
            telegram.push_text(CHAT, "/pnl")
            telegram.wait_for(lambda sent: any(re.match(r"live ETH: \d+ bets", m.text) for m in sent))
            telegram.push_text(CHAT, "/claim")  # runs the daemon's own claim job now
            telegram.wait_for(lambda sent: any(m.text.startswith("claim sweep started") for m in sent))
            bets_before = len(BET.findall(bot.wait_log(lambda t: len(BET.findall(t)) >= 2)))
            telegram.push_text(CHAT, "/pause")
            telegram.wait_for(lambda sent: any(m.text.startswith("paused") for m in sent))
            status = control.read()
            assert status.state is DaemonState.PAUSED and status.by == "telegram"
            bot.wait_log(lambda t: re.search(r"btc-demo round \d+: skip \(.*paused", t) is not None, timeout=60)
            telegram.wait_for(lambda sent: any("running → paused" in m.text for m in sent))
            hook.wait_for(lambda got: any("running → paused" in g["content"] for g in got))
            text = bot.logfile.read_text()
            code = bot.stop()
    assert code == 0
    assert len(BET.findall(text)) <= bets_before + 1  # at most a bet already in flight when /pause came
    assert all(m.chat_id == str(CHAT) for m in telegram.sent)
    webhook_texts = [g["content"] for g in hook.received]
    assert any("daemon started (live)" in t for t in webhook_texts)
    assert any(re.match(r"bet (BULL|BEAR) 0\.[0-9]+ ETH on btc-demo round \d+", t) for t in webhook_texts)
    assert "unauthorised chat 31337" in bot.out() + text
    for file in tmp_path.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert TOKEN.encode() not in data and TOKEN.split(":")[1].encode() not in data, file
            assert b"hookSecretPart-9xQ" not in data, file
