"""Schema versioning: a database made by an older schema is upgraded in place and keeps its data; the migrations
produce exactly the schema the models describe."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from bot.store.db import Base, import_all_models, make_engine, session_factory, session_scope
from bot.store.journal import Intent
from bot.store.migrate import alembic_config, current_revision, head_revision


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
