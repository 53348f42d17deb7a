"""Accounts for tests, made through the task layer (``create_account``) in this process, and
the JWTs that sign requests as them."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from openkling.config import Settings
from openkling.runtime import open_store
from openkling.store.db import Sessions, make_engine, upgrade
from openkling.tasks.accounts import create_account


def make_token(access_key: str, secret_key: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": access_key, "exp": now + 1800, "nbf": now - 5}
    payload.update(claims)
    return jwt.encode(payload, secret_key, algorithm="HS256", headers={"typ": "JWT"})


@dataclass
class Account:
    access_key: str
    secret_key: str
    webhook_secret: str
    credits: float
    allowed_models: list[str] | None = None

    def headers(self, **claims: Any) -> dict[str, str]:
        token = make_token(self.access_key, self.secret_key, **claims)
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def new_account(
    sessions: Sessions, *, credits: float = 1000, name: str = "", models: list[str] | None = None
) -> Account:
    """An account with ``credits`` in the store behind ``sessions``."""
    with sessions.begin() as s:
        row = create_account(s, name=name, credits_amount=credits, allowed_models=models)
        return Account(
            access_key=row.access_key,
            secret_key=row.secret_key,
            webhook_secret=row.webhook_secret,
            credits=int(credits) if float(credits).is_integer() else credits,
            allowed_models=models,
        )


_TEMPLATE: list[Path] = []  # a migrated, empty SQLite store, made once per process


def seed_store(settings: Settings) -> None:
    """A new data dir's SQLite store starts as a copy of an empty store already at the newest
    schema: the migrations run once per process, not once per server (a server finds its
    store up to date). tests/test_migrations.py runs them step by step."""
    target = settings.data_dir / "openkling.db"
    if settings.database_url is not None or target.exists():  # not a new default store
        return
    if not _TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="openkling-template-")) / "openkling.db"
        engine = make_engine(f"sqlite:///{template}")
        upgrade(engine)
        engine.dispose()
        _TEMPLATE.append(template)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATE[0], target)


def account_in(settings: Settings, **kwargs: Any) -> Account:
    """An account in the database ``settings`` name (migrated first, as a server would),
    e.g. the data dir of a server process that is running or about to start."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    seed_store(settings)
    sessions = open_store(settings)
    try:
        return new_account(sessions, **kwargs)
    finally:
        sessions.engine.dispose()
