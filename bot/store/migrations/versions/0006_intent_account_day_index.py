"""intents: index (account, created_at) for the daily cap's read on the bet path (today's intents of one account),
which otherwise walks the account's whole history

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_intents_account_created_at", "intents", ["account", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_intents_account_created_at", table_name="intents")
