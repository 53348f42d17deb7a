"""Accounts and their keys: create, look up, grant credits."""

from __future__ import annotations

import secrets
import string

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..catalog import milli
from ..store.db import now_ms
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
