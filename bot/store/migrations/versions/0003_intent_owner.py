"""intents: owner (the live process that drives the intent: the holder of the account lock; '' = not yet claimed)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intents") as batch:
        batch.add_column(sa.Column("owner", sa.String(96), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("intents") as batch:
        batch.drop_column("owner")
