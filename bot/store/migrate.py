"""Schema versioning with Alembic, so upgrades keep data.

- a new database: every table is created from the models and stamped with the newest revision;
- a database with an ``alembic_version``: upgraded to the newest revision (data kept);
- a database with tables but no version (made before migrations existed): stamped with the newest revision when its
  tables already match the models, else treated as revision ``0001`` and upgraded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"


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


def migrate(engine: Engine) -> str:
    """Bring the database to the newest schema; returns the revision it is at."""
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
