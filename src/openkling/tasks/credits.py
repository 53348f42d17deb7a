"""The credits ledger: charge rows at create, idempotent refund, grants; append-only rows."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ..domain.catalog import format_credits
from ..errors import InsufficientCredits
from ..store.db import now_ms
from ..store.models import LEDGER, Account, LedgerEntry


def _change(session: Session, account_id: int, delta: int, *, floor: int | None = None):
    """Add ``delta`` to the balance (only if it stays >= ``floor``); the new balance or None."""
    stmt = update(Account).where(Account.id == account_id)
    if floor is not None:
        stmt = stmt.where(Account.balance_milli + delta >= floor)
    stmt = stmt.values(balance_milli=Account.balance_milli + delta)
    return session.execute(stmt.returning(Account.balance_milli)).scalar_one_or_none()


def _record(session: Session, account_id, delta, balance, kind, task_id, note="") -> None:
    session.execute(
        insert(LEDGER),
        {
            "account_id": account_id,
            "task_id": task_id,
            "kind": kind,
            "delta_milli": delta,
            "balance_after_milli": balance,
            "note": note,
            "created_at": now_ms(),
        },
    )


def insufficient(balance: int, amount: int) -> InsufficientCredits:
    """The error of a create that costs ``amount`` when the account has ``balance`` left."""
    return InsufficientCredits(
        f"account balance is {format_credits(balance)} credits; this task costs "
        f"{format_credits(amount)}"
    )


def charge_row(account_id: int, task_id: str, amount: int, balance_after: int, now: int) -> dict:
    """The ledger row of a create's charge (written by the group commit, tasks/group_commit.py,
    which takes a whole batch's charges from the balance in one update)."""
    return {
        "account_id": account_id,
        "task_id": task_id,
        "kind": "charge",
        "delta_milli": -amount,
        "balance_after_milli": balance_after,
        "note": "",
        "created_at": now,
    }


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
    balance = _change(session, account_id, amount)
    _record(session, account_id, amount, balance, "refund", task_id, note[:200])
    return True


def grant(session: Session, account_id: int, amount: int, note: str = "grant") -> None:
    balance = _change(session, account_id, amount)
    _record(session, account_id, amount, balance, "grant", None, note)


def granted_total(session: Session, account_id: int) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.delta_milli), 0)).where(
            LedgerEntry.account_id == account_id, LedgerEntry.kind == "grant"
        )
    ).scalar_one()
    return int(total)
