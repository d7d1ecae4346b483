"""control_changes: the daemon's control log (pause / resume / stop-entry / stop, who, why, when)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "control_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stop_entry", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.Double(), nullable=False),
    )
    op.create_index("ix_control_changes_scope", "control_changes", ["scope"])


def downgrade() -> None:
    op.drop_index("ix_control_changes_scope", table_name="control_changes")
    op.drop_table("control_changes")
