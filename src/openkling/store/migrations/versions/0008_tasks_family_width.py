"""tasks.family holds door names up to 32 characters ("multi-image2video" is 17)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column(
            "family",
            existing_type=sa.String(16),
            type_=sa.String(32),
            existing_nullable=False,
            existing_server_default="text2video",
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column(
            "family",
            existing_type=sa.String(32),
            type_=sa.String(16),
            existing_nullable=False,
            existing_server_default="text2video",
        )
