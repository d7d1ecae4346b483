"""Telegram commands: ``/status /pnl /pause /resume /stopentry /claim`` (and ``/help``), from the configured chat only.

One background thread long-polls ``getUpdates`` with an ``offset`` (so every update is confirmed once). A message
from any other chat is ignored and logged with its chat id only (never the token). Commands act through the daemon's
``Control`` (the same journal-backed state the API and the CLI change) and the read-only ``QueryService``; ``/claim``
calls the claim hook the composition root hands in (none: "not available"). Messages older than ``max_age`` seconds
when the listener starts (sent while the bot was down) are confirmed but not obeyed: a stale ``/resume`` must not
restart betting hours later. A Telegram outage backs off (1 s doubling to 30 s) and never stops the daemon.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from bot.coins import Coin
from bot.engine.control import Control
from bot.notify.channels import ChannelError, TelegramClient, Update
from bot.notify.worker import Worker

log = logging.getLogger(__name__)
COMMANDS = ("status", "pnl", "pause", "resume", "stopentry", "claim", "help")
BY = "telegram"


class Summaries(Protocol):
    """What the notifiers read from the journal (``bot.query.QueryService``)."""

    def summary(self, mode: str | None = None, account: str | None = None) -> list[Any]: ...

    def pnl(self, mode: str | None = None, market: str | None = None, account: str | None = None) -> list[Any]: ...


class CommandListener(Worker):
    def __init__(self, client: TelegramClient, control: Control, *, mode: str, query: Summaries | None = None,
                 claim: Callable[[], str] | None = None, poll_seconds: float = 20.0, max_age: float = 120.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.control = control
        self.mode = mode
        self.query = query
        self.claim = claim
        self.poll_seconds = poll_seconds
        self.max_age = max_age
        self.clock = clock
        self.offset = 0
        self.handled = 0
        self.ignored = 0
        super().__init__("telegram-commands")
        self._started_at = 0.0

    def start(self) -> CommandListener:
        self._started_at = self.clock()
        self._thread.start()
        return self

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                updates = self.client.get_updates(self.offset, self.poll_seconds)
            except ChannelError as exc:
                log.log(logging.WARNING if backoff == 1.0 else logging.DEBUG,
                        "telegram commands: getUpdates failed (%s); retrying in %.0f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            for update in updates:
                self.offset = max(self.offset, update.update_id + 1)
                if not self._stop.is_set():
                    self.handle(update)

    def handle(self, update: Update) -> str | None:
        """Obey one update if it is a command from the configured chat; returns the reply sent (None: ignored)."""
        if update.chat_id != self.client.chat_id:
            self.ignored += 1
            log.warning("telegram: message from unauthorised chat %d ignored", update.chat_id)
            return None
        if update.date and update.date < self._started_at - self.max_age:
            self.ignored += 1
            log.info("telegram: stale command (sent %.0f s before start) not obeyed", self._started_at - update.date)
            return None
        word = update.text.strip().split(maxsplit=1)[0] if update.text.strip() else ""
        name = word.lstrip("/").split("@", 1)[0].lower() if word.startswith("/") else ""
        if name not in COMMANDS:
            return None
        try:
            reply = getattr(self, f"_cmd_{name}")()
        except Exception as exc:  # noqa: BLE001 — one bad command must not end the listener
            log.warning("telegram /%s failed: %s: %s", name, type(exc).__name__, exc)
            reply = f"/{name} failed: {type(exc).__name__}"
        self.handled += 1
        log.info("telegram: /%s from the configured chat", name)
        try:
            self.client.reply(update.chat_id, reply)
        except ChannelError as exc:
            log.warning("telegram: reply to /%s lost (%s)", name, exc)
        return str(reply)

    # -- commands -----------------------------------------------------------------------------------------------------
    def _state_line(self) -> str:
        st = self.control.status()
        flag = ", stop-entry" if st.stop_entry else ""
        return f"state: {st.state.value}{flag}" + (f" ({st.reason}, by {st.by})" if st.reason else "")

    def _money_lines(self) -> list[str]:
        if self.query is None:
            return ["(no journal query available)"]
        lines = []
        for s in self.query.summary(mode=self.mode):
            coin = Coin(s.coin, s.decimals)
            hit = f"{s.hit_rate:.1%}" if s.hit_rate is not None else "n/a"
            lines.append(f"{s.mode} {s.coin}: {s.bets} bets, {s.open} open, {s.won} won / {s.lost} lost "
                         f"(hit {hit}), staked {coin.text(s.staked_wei)}, net PnL {coin.text(s.net_pnl_wei)}")
        return lines or ["no bets yet"]

    def _cmd_status(self) -> str:
        return "\n".join([self._state_line(), f"mode: {self.mode}", *self._money_lines()])

    def _cmd_pnl(self) -> str:
        return "\n".join(self._money_lines())

    def _cmd_pause(self) -> str:
        st = self.control.pause("paused from Telegram", by=BY)
        return f"paused: no new bets (state {st.state.value}); /resume to bet again"

    def _cmd_resume(self) -> str:
        st = self.control.resume(by=BY, reason="resumed from Telegram")
        return f"resumed: state {st.state.value}"

    def _cmd_stopentry(self) -> str:
        self.control.stop_entry(by=BY, reason="stop-entry from Telegram")
        return "stop-entry: no new bets; open bets are still settled and claimed. /resume to bet again"

    def _cmd_claim(self) -> str:
        if self.claim is None:
            return "claim is not available in this process (paper mode claims nothing)"
        return str(self.claim())

    def _cmd_help(self) -> str:
        return "commands: " + " ".join(f"/{c}" for c in COMMANDS)
