"""Accounts and their keys: create, look up, grant credits."""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..catalog import milli
from ..store.db import Sessions, now_ms
from ..store.models import Account
from . import credits, webhooks

_ALPHABET = string.ascii_letters + string.digits


def _token(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def create_account(
    session: Session,
    *,
    name: str = "",
    credits_amount: float = 0,
    allowed_models: list[str] | None = None,
) -> Account:
    account = Account(
        allowed_models=allowed_models or None,
        name=name,
        access_key="ak" + _token(30),
        secret_key="sk" + _token(40),
        webhook_secret=webhooks.new_secret(),
        balance_milli=0,
        created_at=now_ms(),
    )
    session.add(account)
    session.flush()
    if credits_amount:
        credits.grant(session, account.id, milli(credits_amount), "initial credits")
        session.refresh(account)
    return account


def by_access_key(session: Session, access_key: str) -> Account | None:
    return session.execute(
        select(Account).where(Account.access_key == access_key)
    ).scalar_one_or_none()


def by_secret_key(session: Session, secret_key: str) -> Account | None:
    return session.execute(
        select(Account).where(Account.secret_key == secret_key)
    ).scalar_one_or_none()


def first_account(session: Session) -> Account | None:
    return session.execute(select(Account).order_by(Account.id).limit(1)).scalar_one_or_none()


@dataclass(frozen=True)
class Principal:
    """What a request knows of its account: enough to authorise and bill it."""

    id: int
    access_key: str
    secret_key: str
    allowed_models: tuple[str, ...] | None
    created_at: int


class AccountCache:
    """Credentials by key, cached for ``ttl`` seconds: auth costs no database read per request.
    Unknown keys are never cached, so a new account works at once."""

    def __init__(self, sessions: Sessions, ttl: float = 5.0) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self._entries: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def by_access_key(self, key: str) -> Principal | None:
        return self._get("access", key, by_access_key)

    def by_secret_key(self, key: str) -> Principal | None:
        return self._get("secret", key, by_secret_key)

    def _get(self, kind: str, key: str, lookup) -> Principal | None:
        now = time.monotonic()
        hit = self._entries.get((kind, key))
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.sessions() as s:
            account = lookup(s, key)
            if account is None:
                return None
            principal = Principal(
                id=account.id,
                access_key=account.access_key,
                secret_key=account.secret_key,
                allowed_models=tuple(account.allowed_models) if account.allowed_models else None,
                created_at=account.created_at,
            )
        with self._lock:
            if len(self._entries) > 10_000:  # bounded: drop everything rather than grow
                self._entries.clear()
            self._entries[(kind, key)] = (now + self.ttl, principal)
        return principal
