"""The fair claim: accounts.priority and last_claim_at, tasks.started_at and passed_over, and
the index the claim and queue positions read (waiting tasks by model, account and age)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("priority", sa.Float(), nullable=False, server_default=sa.text("1.0"))
        )
        batch.add_column(
            sa.Column("last_claim_at", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("started_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("passed_over", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_tasks_queue", "tasks", ["status", "model_name", "account_id", "created_at"])
    op.create_index("ix_tasks_model_runs", "tasks", ["model_name", "status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_model_runs", table_name="tasks")
    op.drop_index("ix_tasks_queue", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("passed_over")
        batch.drop_column("started_at")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("last_claim_at")
        batch.drop_column("priority")
