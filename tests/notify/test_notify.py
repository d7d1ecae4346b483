"""Notifications through real HTTP on loopback: the local Telegram Bot API server and a webhook receiver
(devkit.botapi). Amounts in the market's coin to the wei, per-event switches, rate limiting, a dead server never
raising into the publisher, commands only from the configured chat, the token never in a log line."""

from __future__ import annotations

import logging

import pytest

from bot.config import parse_settings
from bot.engine.control import Control, DaemonState
from bot.events import BetPlaced, DaemonStarted, EventBus, NeedsHumanRaised, RoundSettled
from bot.notify import build_notifiers
from bot.store.db import make_engine
from devkit.botapi import BotApiServer, WebhookReceiver

TOKEN = "123456789:AAHk-test-token-Zx9qL2mN4pR7sT1uV3wY"
CHAT = 4242
HOOK_SECRET = "hooks/991122/xYzSecretWebhookToken77"


def _settings(tmp_path, api_base: str, **notify):
    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": ["http://127.0.0.1:9"], "native_symbol": "BNB"}},
        "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": "0x" + "ab" * 20}],
        "notify": {"telegram": {"enabled": True, "chat_id": CHAT, "api_base": api_base, "poll_timeout_seconds": 1},
                   **notify},
    }
    return parse_settings(tree)


@pytest.fixture(autouse=True)
def redacted_logs(caplog):
    """The redacting filter on the capturing handler, as ``guard_output`` puts it on every handler of the daemon."""
    from bot.redact import install_log_filter

    caplog.set_level(logging.DEBUG)
    install_log_filter()
    yield


@pytest.fixture
def telegram():
    with BotApiServer(TOKEN) as server:
        yield server


@pytest.fixture
def hook():
    with WebhookReceiver() as receiver:
        yield receiver


def _env(hook: WebhookReceiver | None = None) -> dict[str, str]:
    env = {"ALLORA_BOT_TELEGRAM_TOKEN": TOKEN}
    if hook is not None:
        env["ALLORA_BOT_WEBHOOK_URL"] = hook.url("/" + HOOK_SECRET)
    return env


def _control(settings) -> Control:
    return Control(make_engine(settings.database_url))


def test_events_reach_telegram_and_webhook_in_coin_units(tmp_path, telegram, hook, caplog):
    caplog.set_level(logging.DEBUG)
    settings = _settings(tmp_path, telegram.api_base, webhook={"enabled": True},
                         events={"bet_landed": False})
    bus = EventBus()
    notifiers = build_notifiers(settings, bus, _control(settings), environ=_env(hook)).start()
    try:
        bus.publish(DaemonStarted(mode="live", account="0xabc", markets=("m1",)))
        bus.publish(BetPlaced(market="m1", epoch=7, side="bull", amount_wei=12_345_678_901_234_567, coin="BNB",
                              intent_id=1, mode="live", state="landed"))
        bus.publish(RoundSettled(market="m1", epoch=7, pnl_wei=-1, coin="BNB"))
        telegram.wait_for(lambda sent: len(sent) >= 3)
        hook.wait_for(lambda got: len(got) >= 3)
    finally:
        notifiers.close()
    texts = telegram.texts(CHAT)
    assert len(texts) == 3
    assert "daemon started (live)" in texts[0]
    assert "bet BULL 0.012345678901234567 BNB on m1 round 7" in texts[1]  # exact, from wei
    assert "PnL -0.000000000000000001 BNB" in texts[2]
    assert [p["content"] for p in hook.received] == texts and [p["text"] for p in hook.received] == texts
    assert set(hook.paths) == {"/" + HOOK_SECRET}
    for text in [r.getMessage() for r in caplog.records]:
        assert TOKEN not in text and "xYzSecretWebhookToken77" not in text


def test_switched_off_events_are_not_sent(tmp_path, telegram):
    settings = _settings(tmp_path, telegram.api_base, events={"bet_placed": False, "start_stop": False})
    bus = EventBus()
    notifiers = build_notifiers(settings, bus, _control(settings), environ=_env()).start()
    try:
        bus.publish(DaemonStarted(mode="paper", account="0xabc", markets=("m1",)))
        bus.publish(BetPlaced(market="m1", epoch=7, side="bear", amount_wei=10**15, coin="BNB", intent_id=1,
                              mode="paper", state="paper"))
        bus.publish(RoundSettled(market="m1", epoch=7, pnl_wei=2 * 10**18, coin="BNB"))
        telegram.wait_for(lambda sent: len(sent) >= 1)
        assert notifiers.flush()
    finally:
        notifiers.close()
    assert telegram.texts() == ["round settled: m1 round 7 PnL +2 BNB"]


def test_rate_limit_drops_and_counts_but_urgent_messages_pass(tmp_path, telegram):
    settings = _settings(tmp_path, telegram.api_base, burst=3, max_per_minute=0.001)
    bus = EventBus()
    notifiers = build_notifiers(settings, bus, _control(settings), environ=_env()).start()
    try:
        for epoch in range(10):
            bus.publish(RoundSettled(market="m1", epoch=epoch, pnl_wei=epoch, coin="BNB"))
        bus.publish(NeedsHumanRaised(message="RPC answers for another chain"))
        assert notifiers.flush()
    finally:
        notifiers.close()
    texts = telegram.texts()
    assert [t for t in texts if t.startswith("round settled")] == [
        "round settled: m1 round 0 PnL 0 BNB", "round settled: m1 round 1 PnL +0.000000000000000001 BNB",
        "round settled: m1 round 2 PnL +0.000000000000000002 BNB"]
    assert any("needs a human" in t and "another chain" in t for t in texts)
    stats = notifiers.stats()["telegram"]
    assert stats["dropped_rate"] == 7 and stats["sent"] == 4


def test_dead_telegram_loses_messages_with_a_counted_warning(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server = BotApiServer(TOKEN).start()
    base = server.api_base
    server.close()  # nothing listens there any more
    settings = _settings(tmp_path, base, events={"bet_landed": True})
    bus = EventBus()
    notifiers = build_notifiers(settings, bus, _control(settings), environ=_env()).start()
    try:
        for epoch in range(3):
            bus.publish(RoundSettled(market="m1", epoch=epoch, pnl_wei=1, coin="BNB"))  # never raises
        assert notifiers.flush()
    finally:
        notifiers.close()
    assert bus.subscriber_errors == 0
    assert notifiers.stats()["telegram"]["failed"] == 3
    lost = [r for r in caplog.records if "message lost" in r.getMessage() and r.levelno == logging.WARNING]
    assert len(lost) == 1  # one warning per outage, then debug lines
    for record in caplog.records:
        assert TOKEN not in record.getMessage() and TOKEN.split(":")[1] not in record.getMessage()


def test_http_errors_from_telegram_are_counted(tmp_path, telegram):
    telegram.fail_with = 429
    settings = _settings(tmp_path, telegram.api_base)
    bus = EventBus()
    notifiers = build_notifiers(settings, bus, _control(settings), environ=_env()).start()
    try:
        bus.publish(RoundSettled(market="m1", epoch=1, pnl_wei=1, coin="BNB"))
        assert notifiers.flush()
    finally:
        notifiers.close()
    assert notifiers.stats()["telegram"] == {"offered": 1, "sent": 0, "failed": 1, "dropped_rate": 0,
                                             "dropped_full": 0}


def test_commands_only_from_the_configured_chat(tmp_path, telegram, caplog):
    caplog.set_level(logging.DEBUG)
    settings = _settings(tmp_path, telegram.api_base)
    control = _control(settings)
    bus = EventBus()
    notifiers = build_notifiers(settings, bus, control, environ=_env()).start()
    try:
        telegram.push_text(9999, "/pause")  # a stranger
        telegram.push_text(CHAT, "/status")
        telegram.wait_for(lambda sent: any("state: running" in m.text for m in sent))
        assert control.read().state is DaemonState.RUNNING
        telegram.push_text(CHAT, "/pause@local_bot")
        telegram.wait_for(lambda sent: any(m.text.startswith("paused") for m in sent))
        status = control.read()
        assert status.state is DaemonState.PAUSED and status.by == "telegram"
        telegram.push_text(CHAT, "/stopentry")
        telegram.wait_for(lambda sent: any(m.text.startswith("stop-entry") for m in sent))
        assert control.read().stop_entry
        telegram.push_text(CHAT, "/resume")
        telegram.wait_for(lambda sent: any(m.text.startswith("resumed") for m in sent))
        status = control.read()
        assert status.state is DaemonState.RUNNING and not status.stop_entry
    finally:
        notifiers.close()
    assert all(m.chat_id == str(CHAT) for m in telegram.sent)  # nothing was said to the stranger
    assert notifiers.listener is not None and notifiers.listener.ignored == 1
    logs = [r.getMessage() for r in caplog.records]
    assert any("unauthorised chat 9999" in line for line in logs)
    assert not any(TOKEN in line or TOKEN.split(":")[1] in line for line in logs)


def test_enabled_channel_without_its_secret_is_a_config_error(tmp_path, telegram):
    from bot.config import ConfigError

    settings = _settings(tmp_path, telegram.api_base)
    with pytest.raises(ConfigError, match="ALLORA_BOT_TELEGRAM_TOKEN is not set"):
        build_notifiers(settings, EventBus(), _control(settings), environ={})


def test_daily_summary_of_the_finished_day_from_the_journal(tmp_path, telegram):
    """The previous UTC day's settled bets and net PnL, once, after the configured hour (an injected clock)."""
    from datetime import UTC, datetime

    from bot.notify.daily import DailyReporter
    from bot.query import PnlRow

    class Journal:
        def pnl(self, mode=None, market=None, account=None):
            return [PnlRow("live", "m1", "2026-03-01", "BNB", 18, 3, 2, 1, 3 * 10**17, 4 * 10**17, 10**15, 99 * 10**15),
                    PnlRow("live", "m2", "2026-03-01", "BNB", 18, 1, 0, 1, 10**17, 0, 10**15, -101 * 10**15),
                    PnlRow("live", "m1", "2026-03-02", "BNB", 18, 5, 5, 0, 0, 0, 0, 10**18)]

        def summary(self, mode=None, account=None):
            return []

    settings = _settings(tmp_path, telegram.api_base, daily_summary_hour_utc=6)
    bus = EventBus()
    notifiers = build_notifiers(settings, bus, _control(settings), environ=_env(), query=Journal()).start()
    try:
        now = [datetime(2026, 3, 2, 5, 59, tzinfo=UTC).timestamp()]
        reporter = DailyReporter(Journal(), "live", 6, notifiers.on_event, clock=lambda: now[0])
        assert reporter.check() == []  # before the hour
        now[0] = datetime(2026, 3, 2, 6, 0, 1, tzinfo=UTC).timestamp()
        sent = reporter.check()
        assert len(sent) == 1 and reporter.check() == []  # once a day
        telegram.wait_for(lambda s: any(m.text.startswith("day 2026-03-01") for m in s))
    finally:
        notifiers.close()
    assert "day 2026-03-01: 4 bets (2 won, 2 lost, 0 skips), net PnL -0.002 BNB" in telegram.texts()
