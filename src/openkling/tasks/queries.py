"""Reads of many tasks at once for Kling's 2026 ``/tasks``: a batch by ids, and cursor pages."""

from __future__ import annotations

from sqlalchemy import select

from ..domain.status import TaskStatus
from ..domain.task import StoredTask
from ..store.db import Sessions
from ..store.models import TASKS
from .accounts import Principal

_T = TASKS


def batch(
    sessions: Sessions,
    account: Principal,
    ids: tuple[str, ...],
    *,
    by_external: bool,
    families: tuple[str, ...],
) -> list[StoredTask]:
    """This account's tasks of ``families`` with these ids (or external ids), in the order
    asked; unknown ids, and other accounts' tasks, are absent."""
    column = _T.c.external_task_id if by_external else _T.c.id
    query = select(_T).where(
        column.in_(ids), _T.c.account_id == account.id, _T.c.family.in_(families)
    )
    with sessions.engine.connect() as conn:
        rows = conn.execute(query).all()
    found = {(row.external_task_id if by_external else row.id): row for row in rows}
    return [StoredTask.from_values(found[i]) for i in ids if i in found]


def page(
    sessions: Sessions,
    account: Principal,
    *,
    families: tuple[str, ...],
    start_ms: int,
    end_ms: int,
    after_id: str | None,
    limit: int,
    statuses: tuple[TaskStatus, ...] | None,
) -> tuple[list[StoredTask], bool]:
    """Up to ``limit`` tasks created in [start_ms, end_ms], newest first by id, after
    ``after_id`` (exclusive); and whether more follow."""
    query = select(_T).where(
        _T.c.account_id == account.id,
        _T.c.family.in_(families),
        _T.c.created_at >= start_ms,
        _T.c.created_at <= end_ms,
    )
    if statuses is not None:
        query = query.where(_T.c.status.in_(statuses))
    if after_id is not None:
        query = query.where(_T.c.id < after_id)
    with sessions.engine.connect() as conn:
        rows = conn.execute(query.order_by(_T.c.id.desc()).limit(limit + 1)).all()
    return [StoredTask.from_values(row) for row in rows[:limit]], len(rows) > limit
