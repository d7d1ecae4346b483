"""The daemon's control log: every pause / resume / stop-entry / stop, with who, why and when (append-only).

The latest row of a scope is the daemon's current control state (``bot.engine.control.Control`` reads and writes it),
so another process (``python main.py pause``), the API and Telegram steer a running daemon through the database, and a
paused daemon stays paused across a restart.
"""

from __future__ import annotations

import time

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.db import Base


class ControlChange(Base):
    __tablename__ = "control_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), index=True)  # which daemon(s): "daemon" unless configured
    state: Mapped[str] = mapped_column(String(16))  # running | paused | stopped
    stop_entry: Mapped[bool] = mapped_column(Boolean, default=False)  # no new bets; reconcile and claims go on
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[str] = mapped_column(String(64), default="")  # cli | api | telegram | daemon | ...
    changed_at: Mapped[float] = mapped_column(default=time.time)
