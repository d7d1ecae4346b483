"""64-bit integers for every column holding milliseconds, block numbers, nonces, epochs or unix seconds

The inference log's ``fetched_at_ms`` (unix milliseconds, ~1.7e12) overflows PostgreSQL's 32-bit ``integer``; block
numbers, nonces, epochs and unix seconds are widened with it so none of them can (seconds pass 2**31 in 2038). On
SQLite ``INTEGER`` and ``BIGINT`` are the same 64-bit storage, so this revision changes nothing there (no table
rebuild); PostgreSQL rewrites the columns in place (``ALTER COLUMN ... TYPE bigint``, indexes rebuilt).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, column, nullable)
WIDENED = (
    ("allora_inference_log", "timestamp", True),
    ("allora_inference_log", "block_height", True),
    ("allora_inference_log", "fetched_at_ms", False),
    ("intents", "epoch", False),
    ("intents", "lock_ts", False),
    ("intents", "block_number", True),
    ("intents", "block_timestamp", True),
    ("tx_attempts", "nonce", False),
    ("tx_attempts", "block_number", True),
    ("round_outcomes", "epoch", False),
    ("round_outcomes", "start_ts", False),
    ("round_outcomes", "lock_ts", False),
    ("round_outcomes", "close_ts", False),
    ("settlements", "epoch", False),
    ("settlements", "settled_at", False),
    ("scan_cursors", "block", False),
    ("scan_cursors", "start_block", False),
    ("account_events", "epoch", False),
    ("account_events", "block_number", False),
    ("account_txs", "nonce", False),
    ("account_txs", "block_number", False),
    ("account_windows", "start_block", False),
    ("account_windows", "start_nonce", False),
    ("account_windows", "checked_block", False),
    ("claim_records", "block_number", True),
    ("claim_records", "created_at", False),
)


def _retype(old: type[sa.types.TypeEngine[int]], new: type[sa.types.TypeEngine[int]]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # same storage class: nothing to do
    for table, column, nullable in WIDENED:
        op.alter_column(table, column, type_=new(), existing_type=old(), existing_nullable=nullable)


def upgrade() -> None:
    _retype(sa.Integer, sa.BigInteger)


def downgrade() -> None:
    _retype(sa.BigInteger, sa.Integer)
