"""Recent log lines for ``GET /api/logs``: a bounded ring buffer fed by a ``logging.Handler``, secrets redacted."""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from bot.redact import redact_text


@dataclass(frozen=True, slots=True)
class LogLine:
    at: float
    level: str
    logger: str
    message: str


class LogBuffer(logging.Handler):
    """Keeps the last ``size`` records (message redacted, one line, at most 2,000 characters)."""

    def __init__(self, size: int = 500, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._lines: deque[LogLine] = deque(maxlen=size)
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text = f"{text} ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            text = redact_text(" ".join(text.split()))[:2000]
            line = LogLine(record.created, record.levelname, record.name, text)
        except Exception:  # noqa: BLE001 — logging must never raise
            self.handleError(record)
            return
        with self._guard:
            self._lines.append(line)

    def lines(self, limit: int = 200) -> list[LogLine]:
        with self._guard:
            items = list(self._lines)
        return items[-limit:] if limit > 0 else []

    def install(self, logger: logging.Logger | None = None) -> LogBuffer:
        (logger or logging.getLogger("bot")).addHandler(self)
        return self

    def uninstall(self, logger: logging.Logger | None = None) -> None:
        (logger or logging.getLogger("bot")).removeHandler(self)
