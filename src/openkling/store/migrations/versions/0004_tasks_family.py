"""tasks.family: the door a task was made through (text2video, image2video, openai)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("family", sa.String(length=16), nullable=False, server_default="text2video")
        )
    op.create_index(
        "ix_tasks_account_family_created", "tasks", ["account_id", "family", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_account_family_created", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("family")
