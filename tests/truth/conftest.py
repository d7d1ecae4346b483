"""pytest fixtures for tests/truth (helpers live in truth_helpers.py, a uniquely named module)."""

from tests.truth.truth_helpers import clock, db, tendermint  # noqa: F401 - fixtures
