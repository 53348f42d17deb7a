"""accounts.revoked_at (keys revoke) and tasks.expired_at (results removed by retention)

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
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("revoked_at", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("expired_at", sa.BigInteger(), nullable=True))
    op.create_index("ix_tasks_retention", "tasks", ["status", "expired_at", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_retention", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("expired_at")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("revoked_at")
