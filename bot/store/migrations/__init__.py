"""Alembic migrations of the bot's schema (run by ``bot.store.db.make_engine``)."""
