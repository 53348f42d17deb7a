"""A waiting task's place in line and its wait estimate, from one indexed read of the store.

``position`` 1 means the task is next for its model. It follows the fair claim's round robin
(tasks/scheduling.py): a task that is its account's i-th waiting one for the model has ahead
of it its account's i-1 older ones, i-1 of each other account that waits (or all it has, if
fewer), and one more of each account served before it in the round. Affinity and weights may
move the real order a little; the position never counts tasks of other models.

``eta_seconds`` is the expected wait before it starts: the mean run time of the model's last
20 finished runs, times the rounds ahead of it on the workers running that model now (at
least one). Absent until the model has finished a run.
"""

from __future__ import annotations

import math
from typing import Any

from ..domain.queue import QueueInfo
from ..domain.status import TaskStatus
from ..store.db import Sessions, now_ms

RECENT_RUNS = 20

# One statement, one row: the model's waiting tasks grouped by account (an index-only range of
# ix_tasks_queue), the task's own account picked out of them, the round-robin sum over the
# others, and the model's running count and recent mean run time (ix_tasks_status_lease,
# ix_tasks_model_runs). Parameters: model, created, id (the task), account, model, now, model,
# recent. ``?`` placeholders: the raw connections' driver style is applied once.
_QUEUE = """
WITH g AS (
  SELECT t.account_id AS acc, a.last_claim_at AS last, count(*) AS n,
         min(t.created_at) AS oldest,
         sum(CASE WHEN t.created_at < ? OR (t.created_at = ? AND t.id < ?) THEN 1 ELSE 0 END)
           AS before
    FROM tasks t JOIN accounts a ON a.id = t.account_id
   WHERE t.status = 'submitted' AND t.model_name = ?
   GROUP BY t.account_id, a.last_claim_at
), me AS (
  SELECT acc, last, oldest, before + 1 AS i FROM g WHERE acc = ?
)
SELECT me.i + coalesce(sum(CASE WHEN g.acc IS NULL THEN 0 ELSE
         CASE WHEN g.n < me.i - 1 THEN g.n ELSE me.i - 1 END
         + CASE WHEN g.n >= me.i AND (g.last < me.last OR (g.last = me.last AND
                (g.oldest < me.oldest OR (g.oldest = me.oldest AND g.acc < me.acc))))
           THEN 1 ELSE 0 END END), 0),
       (SELECT count(*) FROM tasks p WHERE p.status = 'processing' AND p.model_name = ?
           AND p.lease_expires_at >= ?),
       (SELECT avg(r.updated_at - r.started_at) FROM
         (SELECT updated_at, started_at FROM tasks
           WHERE model_name = ? AND status = 'succeed' AND started_at IS NOT NULL
           ORDER BY updated_at DESC LIMIT ?) r)
  FROM me LEFT JOIN g ON g.acc <> me.acc
 GROUP BY me.i
"""


def estimate(row: tuple | None) -> QueueInfo | None:
    """QueueInfo from the statement's row: (position, running on the model, mean run ms)."""
    if row is None or row[0] is None:
        return None
    position, running, mean_ms = int(row[0]), int(row[1] or 0), row[2]
    if mean_ms is None:
        return QueueInfo(position, None)
    workers = max(running, 1)
    rounds = (position - 1) // workers + (0.5 if running else 0.0)
    return QueueInfo(position, int(math.ceil(float(mean_ms) / 1000 * rounds)))


class QueueEstimates:
    """``of(task)``: its QueueInfo while it waits (one statement), else None."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self._sql = sessions.raw.sql(_QUEUE)

    @staticmethod
    def _params(task: Any) -> tuple:
        model = task.model_name
        now = now_ms()
        return (task.created_at, task.created_at, task.id, model, task.account_id, model, now,
                model, RECENT_RUNS)  # fmt: skip

    def of(self, task: Any) -> QueueInfo | None:
        if task is None or task.status != TaskStatus.SUBMITTED:
            return None
        return estimate(self.sessions.raw.fetchone(self._sql, self._params(task)))

    async def of_async(self, task: Any) -> QueueInfo | None:
        """``of`` on the event loop: PostgreSQL awaited there, SQLite read directly."""
        if task is None or task.status != TaskStatus.SUBMITTED:
            return None
        if self.sessions.loop_reads is None:
            return self.of(task)
        return estimate(await self.sessions.loop_reads.fetchone(self._sql, self._params(task)))

    def of_many(self, tasks: list[Any]) -> dict[str, QueueInfo]:
        """For a page of tasks: one statement per waiting task on it (the rest cost nothing)."""
        out: dict[str, QueueInfo] = {}
        for task in tasks:
            info = self.of(task)
            if info is not None:
                out[task.id] = info
        return out
