"""index unfinished tasks per account (the concurrency limit's count)

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_account_status", "tasks", ["account_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_tasks_account_status", table_name="tasks")
