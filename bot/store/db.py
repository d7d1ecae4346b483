"""Engine and session factory. One declarative ``Base`` for every model module in ``bot.store``.

Conventions for model modules (``bot/store/<area>.py``): subclass ``Base``; wei amounts as ``WeiType`` (exact, stored as
decimal text so values above 2**63 survive SQLite); timestamps as unix seconds ``int``; pass sessions explicitly
(``with session_scope(factory) as s: ...`` = one DB transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from sqlalchemy import String, TypeDecorator, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from bot.errors import OperationalError, one_line
from bot.redact import redact_url


class Base(DeclarativeBase):
    pass


class WeiType(TypeDecorator[int]):
    """An exact non-negative or negative integer of any size, stored as text."""

    impl = String(80)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"wei must be int, got {type(value).__name__}")
        return str(value)

    def process_result_value(self, value: str | None, dialect: Any) -> int | None:
        return None if value is None else int(value)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    # SQLite's default automatic checkpoint (1,000 WAL pages); the daemon's heartbeat also checkpoints, and SQLite does
    # when the last connection closes. (Turning it off did not shorten the bet path's tail: that was fsync waiting
    # behind another process's disk writes, see benchmarks/bench_latency.py.)
    cur.execute("PRAGMA wal_autocheckpoint=1000")
    cur.close()


def checkpoint(engine: Engine) -> None:
    """Fold the WAL back into the database file (SQLite; a no-op elsewhere)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Create an engine; for SQLite, make the parent folder and enable WAL + synchronous=FULL. PostgreSQL needs the
    ``postgres`` extra (psycopg 3, ``postgresql+psycopg://user:password@host:port/db``). A missing driver or a database
    that cannot be reached is an ``OperationalError`` naming the database (credentials masked), not a traceback."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True)
    except ImportError as exc:
        raise OperationalError(f"no driver for {redact_url(url)} ({exc.name or exc}): for PostgreSQL install the "
                               "'postgres' extra (pip install '.[postgres]', psycopg 3)") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if create:
        from bot.store.migrate import migrate

        try:
            migrate(engine)  # new database: create + stamp; older schema: upgraded in place, data kept
        except sqlalchemy.exc.OperationalError as exc:  # cannot connect, authentication refused, database missing
            raise OperationalError(f"cannot open the database {redact_url(url)}: {one_line(exc.orig or exc)}") from None
    return engine


def import_all_models() -> None:
    """Import every model module so ``Base.metadata`` knows all tables."""
    import importlib
    import pkgutil

    import bot.store as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in ("db", "migrate", "migrations"):
            importlib.import_module(f"bot.store.{info.name}")


def engine_of(sessions: sessionmaker[Session]) -> Engine:
    """The engine a session factory is bound to."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("session factory is not bound to an engine")
    return bind


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, future=True)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One DB transaction: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
