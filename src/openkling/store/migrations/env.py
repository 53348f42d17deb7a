"""Alembic environment: runs migrations on the engine openkling hands over."""

from alembic import context
from sqlalchemy import text

from openkling.store.models import Base

MIGRATION_LOCK = 727_001  # PostgreSQL advisory lock id: one migrator at a time

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
