"""The daemon's control state: running, paused or stopped, plus a stop-entry flag — kept in the journal database.

Every change is a row of ``control_changes`` (state, stop-entry, reason, who, when); the newest row of a scope is the
current state. So ``python main.py pause`` in another process, the REST API and Telegram all steer the running daemon
(it re-reads the state on every bet and on every watch tick), and a paused daemon is still paused after a restart.

- ``running``: the daemon bets, reconciles and claims.
- ``paused``: no new bets (a human is needed, or someone asked); reconcile and claims go on.
- ``stopped``: the daemon process was stopped while running (a restart runs again; a pause survives a stop).
- ``stop_entry``: no new bets but reconcile and claims go on, like Freqtrade's stop-entry; ``resume`` clears it.

Works on SQLite and PostgreSQL (one insert per change, one indexed read per check).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from bot.events import EventBus, StateChanged
from bot.store import hotjournal
from bot.store.control import ControlChange

log = logging.getLogger(__name__)

DEFAULT_SCOPE = "daemon"
# the bet path reads this once per bet: static SQL on the journal's pooled DBAPI connection (no ORM, no Core)
LATEST = ("SELECT id, state, stop_entry, reason, changed_by, changed_at FROM control_changes WHERE scope = ? "
          "ORDER BY id DESC LIMIT 1")


class DaemonState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ControlStatus:
    state: DaemonState
    stop_entry: bool
    reason: str
    by: str
    at: float  # unix seconds of the change (0.0: never changed)
    change_id: int = 0

    @property
    def entries_allowed(self) -> bool:
        return self.state is DaemonState.RUNNING and not self.stop_entry

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state.value, "stop_entry": self.stop_entry, "entries_allowed": self.entries_allowed,
                "reason": self.reason, "by": self.by, "at": self.at}


INITIAL = ControlStatus(DaemonState.RUNNING, False, "", "", 0.0, 0)


class Control:
    """Read and change the control state of ``scope`` in the database behind ``engine``.

    A change made here or seen by ``refresh`` (made by another process) is published once as ``StateChanged`` on
    ``bus``."""

    def __init__(self, engine: Engine, *, scope: str = DEFAULT_SCOPE, bus: EventBus | None = None) -> None:
        self.engine = engine
        self.scope = scope
        self.bus = bus
        self._lock = threading.Lock()
        self._last: ControlStatus | None = None

    # -- reading ------------------------------------------------------------------------------------------------------
    def read(self) -> ControlStatus:
        """The newest state in the database (running when nothing was ever recorded)."""
        with hotjournal.connection(self.engine) as conn:
            row = conn.execute(LATEST, (self.scope,)).fetchone()
        if row is None:
            return INITIAL
        change_id, state, stop_entry, reason, by, at = row
        return ControlStatus(DaemonState(state), bool(stop_entry), reason or "", by or "", float(at), int(change_id))

    def refresh(self) -> ControlStatus:
        """Read the state and publish a change another process made since the last look."""
        status = self.read()
        self._observe(status)
        return status

    def status(self) -> ControlStatus:
        return self.refresh()

    def entries_allowed(self) -> bool:
        """May the daemon open a new bet now (running, no stop-entry)? Reads the database."""
        return self.refresh().entries_allowed

    def history(self, limit: int = 50) -> list[ControlStatus]:
        t = ControlChange.__table__
        stmt = (select(t.c.id, t.c.state, t.c.stop_entry, t.c.reason, t.c.changed_by, t.c.changed_at)
                .where(t.c.scope == self.scope).order_by(t.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [ControlStatus(DaemonState(r.state), bool(r.stop_entry), r.reason or "", r.changed_by or "",
                              float(r.changed_at), int(r.id)) for r in rows]

    # -- changing -----------------------------------------------------------------------------------------------------
    def pause(self, reason: str, by: str) -> ControlStatus:
        current = self.read()
        return self._write(DaemonState.PAUSED, current.stop_entry, reason or "paused", by)

    def resume(self, by: str, reason: str = "resumed") -> ControlStatus:
        return self._write(DaemonState.RUNNING, False, reason, by)

    def stop_entry(self, by: str, reason: str = "stop-entry: no new bets") -> ControlStatus:
        current = self.read()
        state = DaemonState.RUNNING if current.state is DaemonState.STOPPED else current.state
        return self._write(state, True, reason, by)

    def mark_started(self, by: str = "daemon") -> ControlStatus:
        """The daemon starts: a stopped state becomes running again; a pause or stop-entry is kept (and said)."""
        current = self.read()
        if current.state is DaemonState.STOPPED:
            return self._write(DaemonState.RUNNING, current.stop_entry, "daemon started", by)
        self._observe(current, publish=False)
        if not current.entries_allowed:
            log.warning("daemon starts %s%s (%s, by %s): no new bets until resumed", current.state.value,
                        " with stop-entry" if current.stop_entry else "", current.reason, current.by)
        return current

    def mark_stopped(self, reason: str = "daemon stopped", by: str = "daemon") -> ControlStatus:
        """The daemon stops: recorded as ``stopped`` only when it was running (a pause must survive the restart)."""
        current = self.read()
        if current.state is DaemonState.RUNNING:
            return self._write(DaemonState.STOPPED, current.stop_entry, reason, by)
        return current

    def _write(self, state: DaemonState, stop_entry: bool, reason: str, by: str) -> ControlStatus:
        now = time.time()
        with self.engine.begin() as conn:
            result = conn.execute(insert(ControlChange).values(scope=self.scope, state=state.value, stop_entry=stop_entry,
                                                   reason=reason[:2000], changed_by=by[:64], changed_at=now))
            pk = result.inserted_primary_key
            change_id = int(pk[0]) if pk is not None and pk[0] is not None else 0
        status = ControlStatus(state, stop_entry, reason[:2000], by[:64], now, change_id)
        log.info("daemon control: %s%s by %s (%s)", state.value, ", stop-entry" if stop_entry else "", by, reason)
        self._observe(status, own=True)
        return status

    def _observe(self, status: ControlStatus, *, publish: bool = True, own: bool = False) -> None:
        """Remember ``status``; publish it when it is new: our own change, or another process's change after a first
        look (what was already recorded when this process first read it is not news)."""
        with self._lock:
            previous = self._last
            if previous is not None and status.change_id <= previous.change_id:
                return
            self._last = status
        if publish and self.bus is not None and (own or previous is not None):
            old = previous.state.value if previous is not None else DaemonState.RUNNING.value
            self.bus.publish(StateChanged(old=old, new=status.state.value, reason=status.reason, by=status.by,
                                          stop_entry=status.stop_entry))
