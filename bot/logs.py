"""Log file and the activity log: what a user reads to follow a running daemon.

- :func:`add_logfile` adds a size-rotated file (``RotatingFileHandler``: ``max_bytes`` per file, ``backups`` old
  files kept) to the root logger, owner-only, with the same redacting filter as the console, so a secret the process
  has read never reaches the file either.
- :class:`ActivityLog` subscribes to the daemon's ``EventBus`` and writes, on the ``bot.activity`` logger at INFO
  (enabled even at the default level, where the rest of the bot is quiet), one line per decision — bet (side,
  stake in the market's coin) or skip, with the reason — and one line per settled round with its PnL, exactly from
  wei.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Mapping
from logging.handlers import RotatingFileHandler
from pathlib import Path

from bot.coins import NATIVE_DECIMALS, Coin
from bot.events import BetFailed, Claimed, Decision, Event, EventBus, RoundSettled
from bot.redact import RedactingFilter

ACTIVITY = "bot.activity"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
activity_log = logging.getLogger(ACTIVITY)


class OwnerOnlyRotatingFileHandler(RotatingFileHandler):
    """Every file it opens (the first one and each after a rotation) is created owner-only, whatever the umask."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def add_logfile(path: str | Path, *, max_bytes: int = 10 * 2**20, backups: int = 5,
                level: int = logging.NOTSET) -> RotatingFileHandler:
    """Log to ``path`` as well (rotated at ``max_bytes``, ``backups`` old files kept); returns the handler."""
    file = Path(path).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True)
    handler = OwnerOnlyRotatingFileHandler(file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    logging.getLogger().addHandler(handler)
    return handler


def enable_activity(level: int = logging.INFO) -> None:
    """Decisions and settlements are shown at the default level (the root logger stays at WARNING)."""
    activity_log.setLevel(level)


def _coin(coins: Mapping[str, Coin], market: str, symbol: str) -> Coin:
    return coins.get(market) or Coin(symbol or "?", NATIVE_DECIMALS)


class ActivityLog:
    """The event subscriber behind the activity lines (see the module docstring)."""

    def __init__(self, coins: Mapping[str, Coin], logger: logging.Logger = activity_log) -> None:
        self.coins = dict(coins)
        self.log = logger

    def __call__(self, event: Event) -> None:
        if isinstance(event, Decision):
            coin = _coin(self.coins, event.market, event.coin)
            if event.action == "bet" and event.side:
                p_up = f", p_up {event.p_up:.3f}" if event.p_up is not None else ""
                self.log.info("%s round %d: bet %s %s (%s%s) [%s]", event.market, event.epoch, event.side.upper(),
                              coin.text(event.amount_wei), event.reason, p_up, event.mode)
            else:
                self.log.info("%s round %d: skip (%s) [%s]", event.market, event.epoch, event.reason, event.mode)
        elif isinstance(event, RoundSettled):
            coin = _coin(self.coins, event.market, event.coin)
            sign = "+" if event.pnl_wei > 0 else ""
            self.log.info("%s round %d settled: PnL %s%s", event.market, event.epoch, sign, coin.text(event.pnl_wei))
        elif isinstance(event, BetFailed):
            self.log.warning("%s round %d: bet %s (%s)", event.market, event.epoch, event.state, event.reason)
        elif isinstance(event, Claimed):
            coin = _coin(self.coins, event.market, event.coin)
            self.log.info("%s: claimed %s for %d round(s)", event.market, coin.text(event.amount_wei), len(event.epochs))


def attach_activity_log(bus: EventBus, coins: Mapping[str, Coin]) -> Callable[[], None]:
    """Subscribe the activity lines to ``bus`` (and enable them at the default level); returns the unsubscriber."""
    enable_activity()
    return bus.subscribe(ActivityLog(coins))
