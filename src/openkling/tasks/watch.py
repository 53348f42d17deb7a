"""Store reads behind the live event streams: one task, or an account's changing tasks."""

from __future__ import annotations

from sqlalchemy import or_, select

from ..domain.status import UNFINISHED
from ..domain.task import StoredTask
from ..domain.vocabulary import FAMILIES
from ..store.db import Sessions
from ..store.models import TASKS

MAX_ROWS = 200  # one read never returns more than this, whatever the account holds


class TaskWatch:
    """Cheap indexed reads a stream repeats a few times a second (Core rows, no ORM)."""

    _TASKS = TASKS

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def account_changes(
        self, account_id: int, *, watching: list[str], since_ms: int
    ) -> list[StoredTask]:
        """The account's Kling tasks (both doors) that are unfinished, that a stream was
        watching (they may have just finished) or that changed since ``since_ms``; oldest
        first."""
        t = self._TASKS
        recent = [t.c.status.in_(UNFINISHED), t.c.updated_at >= since_ms]
        if watching:
            recent.append(t.c.id.in_(watching[:MAX_ROWS]))
        with self.sessions() as s:
            rows = s.execute(
                select(t)
                .where(t.c.account_id == account_id, t.c.family.in_(FAMILIES), or_(*recent))
                .order_by(t.c.created_at, t.c.id)
                .limit(MAX_ROWS)
            ).all()
        return [StoredTask.from_values(row) for row in rows]
