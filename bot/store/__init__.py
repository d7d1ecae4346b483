"""Storage: SQLAlchemy 2 models and repositories. SQLite (WAL, synchronous writes) by default, any SQLAlchemy URL."""
