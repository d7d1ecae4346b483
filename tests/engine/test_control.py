"""Daemon control state in the journal database (SQLite and PostgreSQL): pause / resume / stop-entry with who, why,
when; seen by another process's ``Control``; kept across a restart; published once on the event bus. And the event
bus itself: a failing subscriber never breaks the publisher."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from bot.engine.control import Control, DaemonState
from bot.events import Decision, Event, EventBus, StateChanged
from bot.store.db import make_engine


def test_event_bus_failing_subscriber_is_logged_and_the_others_still_get_the_event(caplog):
    bus = EventBus()
    got: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    unsubscribe = bus.subscribe(got.append)
    event = Decision(market="m", epoch=3, action="skip", side=None, amount_wei=0, coin="ETH", reason="no signal")
    bus.publish(event)
    bus.publish(event)
    assert got == [event, event]
    assert bus.subscriber_errors == 2
    assert sum("event subscriber" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records) == 1
    unsubscribe()
    bus.publish(event)
    assert len(got) == 2
    with pytest.raises(AttributeError):
        event.epoch = 4  # type: ignore[misc]


def test_event_bus_is_thread_safe():
    bus = EventBus()
    seen: list[int] = []
    lock = threading.Lock()

    def count(event: Event) -> None:
        with lock:
            seen.append(1)

    bus.subscribe(count)
    threads = [threading.Thread(target=lambda: [bus.publish(StateChanged(old="a", new="b", reason="", by="t"))
                                                for _ in range(200)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 800


def test_pause_resume_stop_entry_with_who_why_when(database_url):
    engine = make_engine(database_url)
    try:
        bus = EventBus()
        events: list[Event] = []
        bus.subscribe(events.append)
        control = Control(engine, bus=bus)
        assert control.read().state is DaemonState.RUNNING and control.entries_allowed()
        control.mark_started()
        paused = control.pause("signer refused", by="api")
        assert (paused.state, paused.reason, paused.by) == (DaemonState.PAUSED, "signer refused", "api")
        assert not control.entries_allowed()
        # another handle (another process) sees it; a restart keeps the pause
        other = Control(make_engine(database_url, create=False))
        assert other.read().state is DaemonState.PAUSED
        assert other.mark_started().state is DaemonState.PAUSED
        control.resume(by="cli")
        assert control.entries_allowed()
        control.stop_entry(by="telegram")
        status = other.read()
        assert (status.state, status.stop_entry, status.entries_allowed, status.by) == (
            DaemonState.RUNNING, True, False, "telegram")
        control.resume(by="cli")
        control.mark_stopped()
        assert other.read().state is DaemonState.STOPPED
        assert other.mark_started().state is DaemonState.RUNNING
        changes = [(e.old, e.new, e.by) for e in events if isinstance(e, StateChanged)]
        assert changes == [("running", "paused", "api"), ("paused", "running", "cli"),
                           ("running", "running", "telegram"), ("running", "running", "cli"),
                           ("running", "stopped", "daemon")]
        history = control.history()
        assert [h.by for h in history][:3] == ["daemon", "daemon", "cli"]
        assert all(h.at > 0 for h in history)
        other.engine.dispose()
    finally:
        engine.dispose()


def test_a_change_by_another_process_is_published_once_on_refresh(database_url):
    engine = make_engine(database_url)
    try:
        bus = EventBus()
        events: list[Event] = []
        bus.subscribe(events.append)
        control = Control(engine, bus=bus)
        control.mark_started()
        code = ("import sys; from bot.engine.control import Control; from bot.store.db import make_engine; "
                "Control(make_engine(sys.argv[1])).pause('by hand', by='cli')")
        subprocess.run([sys.executable, "-c", code, database_url], check=True, timeout=120)
        assert control.refresh().state is DaemonState.PAUSED
        control.refresh()
        assert [(e.new, e.reason, e.by) for e in events if isinstance(e, StateChanged)] == [
            ("paused", "by hand", "cli")]
    finally:
        engine.dispose()
