"""Notifications: Telegram (Bot API) and a generic JSON webhook, fed by the daemon's ``EventBus``; Telegram commands.

Entry point for the composition root: ``build_notifiers(settings, bus, control)`` -> ``Notifiers`` (``start()`` /
``close()``). It subscribes one quick handler to the bus: the event is rendered (``messages``), checked against its
``notify.events`` switch, and offered to each enabled channel's ``Outbox`` (a bounded queue and a background thread
with a rate limit) — the bet path never waits on HTTP. Secrets (the bot token, the webhook URL) come only from the
environment variables the config names and are registered with ``bot.redact`` before anything can log them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.coins import Coin, coins_of
from bot.config import ConfigError, Settings
from bot.engine.control import Control
from bot.events import Event, EventBus
from bot.notify.channels import Channel, ChannelError, TelegramClient, WebhookClient
from bot.notify.commands import CommandListener, Summaries
from bot.notify.daily import DailyReporter
from bot.notify.messages import Message, render
from bot.notify.outbox import Outbox, RateLimiter

log = logging.getLogger(__name__)


@dataclass
class Notifiers:
    outboxes: list[Outbox] = field(default_factory=list)
    listener: CommandListener | None = None
    daily: DailyReporter | None = None
    sent_events: int = 0
    _unsubscribe: Callable[[], None] | None = None
    _switches: Mapping[str, bool] = field(default_factory=dict)
    _coins: Mapping[str, Coin] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.outboxes or self.listener)

    def on_event(self, event: Event) -> None:
        """The bus subscriber: render, check the switch, queue (never blocks, never raises into the publisher)."""
        message = render(event, self._coins)
        if message is None or not self._switches.get(message.switch, False):
            return
        self.post(message)

    def post(self, message: Message) -> None:
        self.sent_events += 1
        for box in self.outboxes:
            box.offer(message.text, urgent=message.urgent)

    def start(self) -> Notifiers:
        for box in self.outboxes:
            box.start()
        if self.listener is not None:
            self.listener.start()
        if self.daily is not None:
            self.daily.start()
        return self

    def flush(self, timeout: float = 10.0) -> bool:
        return all(box.flush(timeout) for box in self.outboxes)

    def close(self, timeout: float = 5.0) -> None:
        """Unsubscribe, send what is queued (up to ``timeout``), stop the threads."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.listener is not None:
            self.listener.close(timeout)
        if self.daily is not None:
            self.daily.close(timeout)
        for box in self.outboxes:
            box.close(timeout)
            closer = getattr(box.channel, "close", None)
            if callable(closer):
                closer()

    def stats(self) -> dict[str, dict[str, int]]:
        return {box.channel.name: vars(box.stats).copy() for box in self.outboxes}


def _secret(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"notify.{what} is enabled but the environment variable {name} is not set")
    return value


def build_notifiers(settings: Settings, bus: EventBus, control: Control, *, query: Summaries | None = None,
                    claim: Callable[[], str] | None = None, environ: Mapping[str, str] | None = None,
                    coins: Mapping[str, Coin] | None = None) -> Notifiers:
    """Channels from ``settings.notify`` (nothing enabled: an idle ``Notifiers``), subscribed to ``bus``.

    ``query`` answers /status and /pnl (``bot.query.QueryService``); ``claim`` runs a claim sweep for /claim and
    returns a one-line result. Call ``start()`` once the daemon runs, ``close()`` after it stopped."""
    cfg = settings.notify
    env = os.environ if environ is None else environ
    channels: list[Channel] = []
    telegram: TelegramClient | None = None
    if cfg.telegram.enabled:
        assert cfg.telegram.chat_id is not None  # the config validator requires it
        token = _secret(env, cfg.telegram.token_env, "telegram")
        telegram = TelegramClient(cfg.telegram.api_base, token, cfg.telegram.chat_id, timeout=cfg.timeout_seconds)
        channels.append(telegram)
    if cfg.webhook.enabled:
        channels.append(WebhookClient(_secret(env, cfg.webhook.url_env, "webhook"), timeout=cfg.timeout_seconds))
    notifiers = Notifiers(
        outboxes=[Outbox(c, RateLimiter(cfg.max_per_minute, cfg.burst), queue_size=cfg.queue_size) for c in channels],
        _switches=cfg.events.model_dump(), _coins=dict(coins) if coins is not None else coins_of(settings),
    )
    if telegram is not None and cfg.telegram.commands:
        notifiers.listener = CommandListener(telegram, control, mode=settings.mode, query=query, claim=claim,
                                             poll_seconds=cfg.telegram.poll_timeout_seconds)
    if channels and query is not None and cfg.events.daily_summary:
        notifiers.daily = DailyReporter(query, settings.mode, cfg.daily_summary_hour_utc, notifiers.on_event)
    if channels:
        notifiers._unsubscribe = bus.subscribe(notifiers.on_event)
        log.info("notifications: %s", ", ".join(c.name for c in channels))
    return notifiers


__all__ = ["ChannelError", "CommandListener", "DailyReporter", "Message", "Notifiers", "Outbox", "RateLimiter",
           "build_notifiers", "render"]
