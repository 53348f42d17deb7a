"""The task store: SQLAlchemy models, sessions and Alembic migrations (SQLite | PostgreSQL)."""
