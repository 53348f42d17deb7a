"""A waiting task's place in line and its wait estimate, from two bounded reads of the store.

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

# Two statements, each bounded by an index (ix_tasks_queue: status, model, account, created),
# never by how many tasks wait. ``_MINE``: the task's index i in its account's line, that
# account's oldest waiting task and last claim, and the model's running count and recent mean
# run time (ix_tasks_status_lease, ix_tasks_model_runs). ``_OTHERS``: every other account
# waiting on the model (a loose index scan: one seek per account), each counted only up to i,
# summed as the round robin orders them. ``?`` placeholders: the driver's style is applied once.
_WAITING = "status = 'submitted' AND model_name = ?"
_MINE = f"""
SELECT (SELECT count(*) FROM tasks WHERE {_WAITING} AND account_id = ?
           AND (created_at < ? OR (created_at = ? AND id < ?))) + 1,
       (SELECT min(created_at) FROM tasks WHERE {_WAITING} AND account_id = ?),
       (SELECT last_claim_at FROM accounts WHERE id = ?),
       (SELECT count(*) FROM tasks p WHERE p.status = 'processing' AND p.model_name = ?
           AND p.lease_expires_at >= ?),
       (SELECT avg(r.updated_at - r.started_at) FROM
         (SELECT updated_at, started_at FROM tasks
           WHERE model_name = ? AND status = 'succeed' AND started_at IS NOT NULL
           ORDER BY updated_at DESC LIMIT ?) r)
"""
_OTHERS = f"""
WITH RECURSIVE accs(acc) AS (
  SELECT min(account_id) FROM tasks WHERE {_WAITING}
  UNION ALL
  SELECT (SELECT min(t.account_id) FROM tasks t
           WHERE t.status = 'submitted' AND t.model_name = ? AND t.account_id > accs.acc)
    FROM accs WHERE accs.acc IS NOT NULL
), g AS (
  SELECT accs.acc AS acc, a.last_claim_at AS last,
         (SELECT count(*) FROM (SELECT 1 AS one FROM tasks t
             WHERE t.status = 'submitted' AND t.model_name = ? AND t.account_id = accs.acc
             LIMIT ?) x) AS n,
         (SELECT min(t.created_at) FROM tasks t
           WHERE t.status = 'submitted' AND t.model_name = ? AND t.account_id = accs.acc)
           AS oldest
    FROM accs JOIN accounts a ON a.id = accs.acc
   WHERE accs.acc IS NOT NULL AND accs.acc <> ?
)
SELECT coalesce(sum(CASE WHEN g.n < ? THEN g.n ELSE ? END
         + CASE WHEN g.n >= ? AND (g.last < ? OR (g.last = ? AND
                (g.oldest < ? OR (g.oldest = ? AND g.acc < ?))))
           THEN 1 ELSE 0 END), 0)
  FROM g
"""


def estimate(position: int, running: int, mean_ms: Any) -> QueueInfo:
    """QueueInfo from the place in line, the model's running count and mean run time (ms)."""
    if mean_ms is None:
        return QueueInfo(position, None)
    workers = max(running, 1)
    rounds = (position - 1) // workers + (0.5 if running else 0.0)
    return QueueInfo(position, int(math.ceil(float(mean_ms) / 1000 * rounds)))


class QueueEstimates:
    """``of(task)``: its QueueInfo while it waits (two bounded statements), else None."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self._mine = sessions.raw.sql(_MINE)
        self._others = sessions.raw.sql(_OTHERS)

    @staticmethod
    def _mine_params(task: Any) -> tuple:
        model, account = task.model_name, task.account_id
        return (model, account, task.created_at, task.created_at, task.id, model, account,
                account, model, now_ms(), model, RECENT_RUNS)  # fmt: skip

    @staticmethod
    def _others_params(task: Any, mine: tuple) -> tuple:
        i, oldest, last = int(mine[0]), mine[1], mine[2]
        model = task.model_name
        return (model, model, model, i, model, task.account_id, i - 1, i - 1, i, last, last,
                oldest, oldest, task.account_id)  # fmt: skip

    @staticmethod
    def _info(mine: tuple | None, ahead: tuple | None) -> QueueInfo | None:
        if mine is None or mine[1] is None:  # no longer waiting
            return None
        position = int(mine[0]) + int((ahead or (0,))[0] or 0)
        return estimate(position, int(mine[3] or 0), mine[4])

    def of(self, task: Any) -> QueueInfo | None:
        if task is None or task.status != TaskStatus.SUBMITTED:
            return None
        raw = self.sessions.raw
        mine = raw.fetchone(self._mine, self._mine_params(task))
        if mine is None or mine[1] is None:
            return None
        return self._info(mine, raw.fetchone(self._others, self._others_params(task, mine)))

    async def of_async(self, task: Any) -> QueueInfo | None:
        """``of`` on the event loop: PostgreSQL awaited there, SQLite read directly."""
        if task is None or task.status != TaskStatus.SUBMITTED:
            return None
        reads = self.sessions.loop_reads
        if reads is None:
            return self.of(task)
        mine = await reads.fetchone(self._mine, self._mine_params(task))
        if mine is None or mine[1] is None:
            return None
        return self._info(mine, await reads.fetchone(self._others, self._others_params(task, mine)))

    def of_many(self, tasks: list[Any]) -> dict[str, QueueInfo]:
        """For a page of tasks: the statements of each waiting task on it (the rest cost
        nothing)."""
        out: dict[str, QueueInfo] = {}
        for task in tasks:
            info = self.of(task)
            if info is not None:
                out[task.id] = info
        return out
