"""accounts.webhook_secret_previous and webhook_previous_until (webhook secret rotation)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("webhook_secret_previous", sa.String(128), nullable=True))
        batch.add_column(sa.Column("webhook_previous_until", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("webhook_previous_until")
        batch.drop_column("webhook_secret_previous")
