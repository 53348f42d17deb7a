"""Accounts and their keys: create, look up, revoke, rotate; credentials for each request."""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.catalog import milli
from ..store.db import Sessions, now_ms
from ..store.models import ACCOUNTS, Account
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


class KeyNotFound(LookupError):
    """No account has this access key."""


class KeyRevoked(ValueError):
    """The account's keys were revoked."""


def _live_account(session: Session, access_key: str) -> Account:
    account = session.execute(
        select(Account).where(Account.access_key == access_key).with_for_update()
    ).scalar_one_or_none()
    if account is None:
        raise KeyNotFound(access_key)
    if account.revoked_at is not None:
        raise KeyRevoked(access_key)
    return account


def revoke_keys(session: Session, access_key: str) -> Account:
    """Revoke an account's keys for good: every request made with them gets 401 from now on.
    Its tasks, results and credits stay; running tasks finish and their callbacks are sent."""
    account = _live_account(session, access_key)
    account.revoked_at = now_ms()
    session.flush()
    return account


def rotate_secret_key(session: Session, access_key: str) -> Account:
    """Give the account a new secret key; the old one gets 401 from now on. The access key,
    webhook secret, credits and tasks stay."""
    account = _live_account(session, access_key)
    account.secret_key = "sk" + _token(40)
    session.flush()
    return account


_ACCOUNTS = ACCOUNTS
_CREDENTIAL_COLUMNS = (
    _ACCOUNTS.c.id,
    _ACCOUNTS.c.access_key,
    _ACCOUNTS.c.secret_key,
    _ACCOUNTS.c.allowed_models,
    _ACCOUNTS.c.created_at,
)


class Credentials:
    """Credentials by key for each request. A key revoked or rotated away is refused at once
    on every API host: each request re-reads its account's current secret (and whether it is
    revoked), either here with one indexed query on a connection kept for the calling thread,
    a few microseconds on SQLite, or (``cached``) in the statement that serves the request:
    the task read of a get (``TaskService.get_if_current``), the transaction of a create (the
    group commit). The rest of a principal (allowed models) is cached for ``ttl`` seconds."""

    def __init__(self, sessions: Sessions, ttl: float = 5.0) -> None:
        self.engine = sessions.engine
        self.raw = sessions.raw
        self.ttl = ttl
        self._entries: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self._check_sql = self.raw.sql(
            "SELECT secret_key FROM accounts WHERE id = ? AND revoked_at IS NULL"
        )

    def by_access_key(self, key: str) -> Principal | None:
        return self._get("access", key)

    def by_secret_key(self, key: str) -> Principal | None:
        return self._get("secret", key)

    def cached(self, kind: str, key: str) -> Principal | None:
        """The principal of ``key`` (``kind`` "access" or "secret") from the cache alone, with
        no store access and NOT re-checked: the caller must check it in its own statement (see
        the class) and ``forget`` it when that finds the key changed. None when not cached."""
        hit = self._entries.get((kind, key))
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def forget(self, principal: Principal) -> None:
        """Drop the cached entries of ``principal``'s keys: the next request reads them again."""
        with self._lock:
            self._entries.pop(("access", principal.access_key), None)
            self._entries.pop(("secret", principal.secret_key), None)

    def _get(self, kind: str, key: str) -> Principal | None:
        now = time.monotonic()
        hit = self._entries.get((kind, key))
        if hit is not None and hit[0] > now:
            if self._current_secret(hit[1].id) == hit[1].secret_key:
                return hit[1]
            with self._lock:  # rotated or revoked since: read it all again
                self._entries.pop((kind, key), None)
        column = _ACCOUNTS.c.access_key if kind == "access" else _ACCOUNTS.c.secret_key
        principal = self._load(column == key)  # the query is built only on a miss
        if principal is not None:
            with self._lock:
                if len(self._entries) > 10_000:  # bounded: drop everything rather than grow
                    self._entries.clear()
                self._entries[(kind, key)] = (now + self.ttl, principal)
        return principal

    def _load(self, match) -> Principal | None:
        query = select(*_CREDENTIAL_COLUMNS).where(match, _ACCOUNTS.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return Principal(
            id=row.id,
            access_key=row.access_key,
            secret_key=row.secret_key,
            allowed_models=tuple(row.allowed_models) if row.allowed_models else None,
            created_at=row.created_at,
        )

    def _current_secret(self, account_id: int) -> str | None:
        """The account's secret key now; None if it is revoked (or gone)."""
        row = self.raw.fetchone(self._check_sql, (account_id,))
        return row[0] if row else None
