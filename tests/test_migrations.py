"""The Alembic migrations build exactly the schema the models declare, and step back cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from openkling.store.db import (
    HEAD_REVISION,
    alembic_config,
    current_revision,
    make_engine,
    upgrade,
)
from openkling.store.models import Base


def _diff(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_migrations_match_the_models_and_downgrade(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert current_revision(engine) == head == HEAD_REVISION  # a new migration moves the constant
    assert _diff(engine) == []

    command.downgrade(alembic_config(engine), "0004")  # before key revocation and retention
    assert current_revision(engine) == "0004"
    with engine.connect() as conn:
        columns = {c["name"] for c in conn.dialect.get_columns(conn, "accounts")}
    assert "revoked_at" not in columns
    upgrade(engine)
    assert _diff(engine) == []
