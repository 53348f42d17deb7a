"""An account's webhook secrets, as Kling manages them: standard rotation (the old secret
signs too for 7 days), emergency rotation (the old one is dead at once), deleting the previous
secret or all of them (callbacks then go unsigned), and a test callback (one per 6 s)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidParameter
from ..store.db import Sessions, now_ms
from ..store.models import Account
from . import webhooks

GRACE_MS = 7 * 24 * 3600 * 1000
TEST_INTERVAL_MS = 6000
TEST_PREFIX = "msg_test_"
SCOPES = ("previous", "all")


def signers(account: Account, now: int | None = None) -> list[str]:
    """The secrets that sign this account's callbacks now: the current one, and the previous
    one during its grace period. Empty: callbacks go unsigned."""
    now = now_ms() if now is None else now
    out = [account.webhook_secret] if account.webhook_secret else []
    previous, until = account.webhook_secret_previous, account.webhook_previous_until
    if previous and until is not None and until > now:
        out.append(previous)
    return out


def describe(account: Account, now: int | None = None) -> dict:
    """The account's secrets as the API and CLI show them."""
    now = now_ms() if now is None else now
    secrets: list[dict[str, Any]] = []
    if account.webhook_secret:
        secrets.append({"secret": account.webhook_secret, "state": "current", "expires_at": None})
    until = account.webhook_previous_until
    if account.webhook_secret_previous and until is not None and until > now:
        secrets.append(
            {"secret": account.webhook_secret_previous, "state": "previous", "expires_at": until}
        )
    return {"signed": bool(secrets), "secrets": secrets}


def lock_account(session: Session, account_id: int) -> Account:
    # the row lock orders rotations and test callbacks of one account across API hosts
    return session.execute(
        select(Account).where(Account.id == account_id).with_for_update()
    ).scalar_one()


def rotate(sessions: Sessions, account_id: int, *, emergency: bool = False) -> dict:
    """A new current secret. Standard: the old one keeps signing for 7 days; emergency: it
    is dead at once (so is any older one still in its grace period)."""
    with sessions.begin() as s:
        account = lock_account(s, account_id)
        now = now_ms()
        old = account.webhook_secret
        account.webhook_secret = webhooks.new_secret()
        if emergency or not old:
            account.webhook_secret_previous = None
            account.webhook_previous_until = None
        else:
            account.webhook_secret_previous = old
            account.webhook_previous_until = now + GRACE_MS
        s.flush()
        return describe(account, now)


def delete(sessions: Sessions, account_id: int, *, scope: str) -> dict:
    """``previous``: the old secret stops signing now; ``all``: no secret is left, and
    callbacks are sent with no signature headers until the next rotation makes one."""
    if scope not in SCOPES:
        raise InvalidParameter(f"scope: {scope!r} is not allowed; allowed values: previous, all")
    with sessions.begin() as s:
        account = lock_account(s, account_id)
        account.webhook_secret_previous = None
        account.webhook_previous_until = None
        if scope == "all":
            account.webhook_secret = ""
        s.flush()
        return describe(account)
