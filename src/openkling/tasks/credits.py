"""The credits ledger: atomic charge at create, idempotent refund, grants; append-only rows."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..catalog import format_credits
from ..errors import InsufficientCredits
from ..store.db import now_ms
from ..store.models import Account, LedgerEntry


def _move(session: Session, account_id: int, delta: int, kind: str, task_id: str | None, note=""):
    balance = session.execute(
        select(Account.balance_milli).where(Account.id == account_id)
    ).scalar_one()
    session.add(
        LedgerEntry(
            account_id=account_id,
            task_id=task_id,
            kind=kind,
            delta_milli=delta,
            balance_after_milli=balance,
            note=note,
            created_at=now_ms(),
        )
    )


def charge(session: Session, account_id: int, task_id: str, amount: int) -> None:
    """Take ``amount`` milli-credits, or raise ``InsufficientCredits`` and change nothing."""
    result = session.execute(
        update(Account)
        .where(Account.id == account_id, Account.balance_milli >= amount)
        .values(balance_milli=Account.balance_milli - amount)
    )
    if result.rowcount != 1:
        balance = session.execute(
            select(Account.balance_milli).where(Account.id == account_id)
        ).scalar_one()
        raise InsufficientCredits(
            f"account balance is {format_credits(balance)} credits; this task costs "
            f"{format_credits(amount)}"
        )
    _move(session, account_id, -amount, "charge", task_id)


def refund(session: Session, account_id: int, task_id: str, amount: int, note: str = "") -> bool:
    """Give back a task's charge once; a second refund of the same task is a no-op."""
    if amount <= 0:
        return False
    exists = session.execute(
        select(LedgerEntry.id).where(LedgerEntry.task_id == task_id, LedgerEntry.kind == "refund")
    ).first()
    if exists:
        return False
    # The status transition to failed happens once (a conditional update), so this runs once
    # per task; the unique (task_id, kind) constraint is the backstop.
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(balance_milli=Account.balance_milli + amount)
    )
    _move(session, account_id, amount, "refund", task_id, note[:200])
    return True


def grant(session: Session, account_id: int, amount: int, note: str = "grant") -> None:
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(balance_milli=Account.balance_milli + amount)
    )
    _move(session, account_id, amount, "grant", None, note)


def granted_total(session: Session, account_id: int) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.delta_milli), 0)).where(
            LedgerEntry.account_id == account_id, LedgerEntry.kind == "grant"
        )
    ).scalar_one()
    return int(total)
