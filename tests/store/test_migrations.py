"""Schema versioning: a database made by an older schema is upgraded in place and keeps its data; the migrations
produce exactly the schema the models describe; many processes opening one new database at once (SQLite and
PostgreSQL) all start, on one schema at head."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text

from bot.store.db import Base, import_all_models, make_engine, session_factory, session_scope
from bot.store.journal import Intent
from bot.store.migrate import alembic_config, current_revision, head_revision

ROOT = Path(__file__).resolve().parents[2]
OPENER = """
import sys, time
from bot.store.db import import_all_models, make_engine
from bot.store.migrate import current_revision
import_all_models()  # everything imported before the instant: the opens race, not the imports
url, at = sys.argv[1], float(sys.argv[2])
while time.time() < at:
    time.sleep(0.0005)
engine = make_engine(url)
print(current_revision(engine))
"""


def _upgrade(url: str, revision: str) -> None:
    engine = create_engine(url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def test_old_database_is_upgraded_and_keeps_its_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _upgrade(url, "0001")  # the schema of the first release
    old = create_engine(url)
    with old.begin() as conn:
        cols = [r[1] for r in conn.execute(text("PRAGMA table_info(intents)"))]
        assert "fired_at" not in cols
        conn.execute(text(
            "INSERT INTO intents (market, epoch, account, mode, origin, position, amount_wei, state, reason, strategy,"
            " decision, lock_ts, created_at, updated_at, gas_used, gas_cost_wei) VALUES ('m', 7, '0xabc', 'live',"
            " 'daemon', 0, '123456789012345678901234567890', 'landed', '', 'edge', '{}', 100, 1.0, 1.0, 21000, '42')"
        ))
    old.dispose()
    engine = make_engine(url)  # what the bot does on start
    assert current_revision(engine) == head_revision()
    with session_scope(session_factory(engine)) as s:
        row = s.scalars(select(Intent)).one()
        assert row.epoch == 7 and row.amount_wei == 123456789012345678901234567890  # exact, bigger than 2**64
        assert row.fired_at == 0.0 and row.handed_at == 0.0


def test_migrations_match_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    _upgrade(url, "head")
    import_all_models()
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # type-only differences of WeiType (stored as text) are expected; anything structural is drift
    structural = [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")]
    assert structural == [], f"models changed without a migration: {structural}"


def test_new_database_is_created_at_head(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert current_revision(engine) == head_revision()
    engine2 = make_engine(f"sqlite:///{tmp_path / 'new.db'}")  # reopening is a no-op
    assert current_revision(engine2) == head_revision()


def test_unversioned_database_from_create_all_is_adopted(tmp_path):
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    import_all_models()
    legacy = create_engine(url)
    Base.metadata.create_all(legacy)  # how databases were made before migrations existed
    legacy.dispose()
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()


def test_twelve_processes_open_one_fresh_database_at_once(database_url):
    """The daemon, CLI commands, a fleet of bots: 12 processes open one new database at the same instant. None
    crashes, each finds the schema at head, and there is one schema (one version row, every model table)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    at = str(time.time() + 6.0)  # every child imported and waiting before the instant
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, database_url, at], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(12)]
    outs = [p.communicate(timeout=240) for p in procs]
    failed = [o[1][-1500:] for p, o in zip(procs, outs, strict=True) if p.returncode != 0]
    assert failed == [], failed
    assert [o[0].strip() for o in outs] == [head_revision()] * 12
    import_all_models()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_postgres_database_at_0003_is_widened_to_bigint_and_keeps_its_data(pg_url):
    _upgrade(pg_url, "0003")
    old = create_engine(pg_url)
    with old.begin() as conn:
        conn.execute(text(
            "INSERT INTO intents (market, epoch, account, mode, origin, position, amount_wei, state, reason, strategy,"
            " decision, lock_ts, created_at, updated_at, gas_used, gas_cost_wei) VALUES ('m', 7, '0xabc', 'live',"
            " 'daemon', 0, '123456789012345678901234567890', 'landed', '', 'edge', '{}', 100, 1.0, 1.0, 21000, '42')"
        ))
        with pytest.raises(Exception, match="out of range"), conn.begin_nested():
            conn.execute(text("UPDATE intents SET block_number = 3000000000"))  # int32 at 0003
    old.dispose()
    engine = make_engine(pg_url)
    assert current_revision(engine) == head_revision()
    ms = 1_764_770_000_123  # unix milliseconds: overflows int32
    with engine.begin() as conn:
        conn.execute(text("UPDATE intents SET block_number = 3000000000, epoch = 2147483648"))
        conn.execute(text(
            "INSERT INTO allora_inference_log (source, topic_id, topic_name, fetched_at_ms, accepted, raw)"
            " VALUES ('api', 14, 'btc', :ms, true, '')"), {"ms": ms})
    with session_scope(session_factory(engine)) as s:
        row = s.scalars(select(Intent)).one()
        assert (row.epoch, row.block_number, row.amount_wei) == (2**31, 3_000_000_000, 123456789012345678901234567890)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT fetched_at_ms FROM allora_inference_log")).scalar_one() == ms
        types = {(c["name"]): str(c["type"]) for c in inspect(conn).get_columns("allora_inference_log")}
        assert types["fetched_at_ms"] == "BIGINT"
    engine.dispose()


def test_postgres_migrated_from_scratch_has_the_models_column_types(pg_url):
    """Upgraded 0001 -> head, a PostgreSQL database has every column the models describe with the same type (a
    model widened to bigint without a migration would leave old databases on int4)."""
    _upgrade(pg_url, "head")
    import_all_models()
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    types = [(c[2], c[3], str(c[5]), str(c[6])) for d in diff if isinstance(d, list) for c in d if c[0] == "modify_type"]
    assert types == []
    assert diff == []  # nothing else differs either (tables, columns, indexes, constraints)
