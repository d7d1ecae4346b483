"""intents: decision-latency timestamps (fired_at: trigger fired, handed_at: raw tx handed to the RPC)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intents") as batch:
        batch.add_column(sa.Column("fired_at", sa.Double(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("handed_at", sa.Double(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("intents") as batch:
        batch.drop_column("handed_at")
        batch.drop_column("fired_at")
