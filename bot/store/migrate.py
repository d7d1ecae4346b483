"""Schema versioning with Alembic, so upgrades keep data.

- a new database: every table is created from the models and stamped with the newest revision;
- a database with an ``alembic_version``: upgraded to the newest revision (data kept);
- a database with tables but no version (made before migrations existed): stamped with the newest revision when its
  tables already match the models, else treated as revision ``0001`` and upgraded.

Several processes may open one new database at once (a daemon and a CLI command, a fleet of bots on one PostgreSQL):
``migrate`` runs under a lock that serialises them, so one creates or upgrades the schema and the others then find it at
head. PostgreSQL: a session-level ``pg_advisory_lock(MIGRATE_LOCK_KEY)`` on a connection of its own, released after;
SQLite: an exclusive ``flock`` on ``<db>.migrate.lock`` beside the database file (the kernel drops it if we die).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
MIGRATE_LOCK_KEY = int.from_bytes(b"bot-migr", "big", signed=True)  # PostgreSQL advisory lock of ``migrate``


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _matches_models(conn: Any) -> bool:
    """True when the database already has every table and column the models describe."""
    from alembic.autogenerate import compare_metadata

    from bot.store.db import Base

    diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    return not any(isinstance(d, tuple) and d[0] in ("add_table", "add_column") for d in diffs)


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's migration lock (waits for another process's migration to finish)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text(f"SELECT pg_advisory_lock({MIGRATE_LOCK_KEY})"))
            conn.commit()  # the lock is the session's, not the transaction's: do not sit idle in a transaction
            try:
                yield
            finally:
                conn.execute(text(f"SELECT pg_advisory_unlock({MIGRATE_LOCK_KEY})"))
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        yield  # an in-memory database has one user
        return
    fd = os.open(f"{database}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def migrate(engine: Engine) -> str:
    """Bring the database to the newest schema; returns the revision it is at."""
    with migration_lock(engine):
        return _migrate(engine)


def _migrate(engine: Engine) -> str:
    from bot.store.db import Base, import_all_models

    import_all_models()
    cfg = alembic_config()
    tables = set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        if not tables - {"alembic_version"}:
            Base.metadata.create_all(conn)
            command.stamp(cfg, "head")
        else:
            if "alembic_version" not in tables or MigrationContext.configure(conn).get_current_revision() is None:
                command.stamp(cfg, "head" if _matches_models(conn) else BASELINE)
            command.upgrade(cfg, "head")
    return head_revision()
