"""A waiting task's place in line and its wait estimate, from one bounded read of the store.

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


def mean_run_sql(model: str, runs: str) -> str:
    """The mean run time (ms) of a model's last ``RECENT_RUNS`` finished runs, as a scalar
    subquery (through ix_tasks_model_runs); ``model`` and ``runs`` are the placeholders."""
    return f"""(SELECT avg(r.updated_at - r.started_at) FROM
           (SELECT updated_at, started_at FROM tasks
             WHERE model_name = {model} AND status = 'succeed' AND started_at IS NOT NULL
             ORDER BY updated_at DESC LIMIT {runs}) r)"""


# One statement, bounded by indexes (ix_tasks_queue: status, model, account, created), never
# by how many other accounts' tasks wait. ``mine``: the task's index i in its account's line,
# that account's oldest waiting task and last claim, and the model's running count and recent
# mean run time (ix_tasks_status_lease, ix_tasks_model_runs). ``accs`` and ``g``: every other
# account waiting on the model (a loose index scan: one seek per account), each counted only
# up to i, summed as the round robin orders them. ``?`` placeholders: the driver's style is
# applied once.
_WAITING = "status = 'submitted' AND model_name = ?"
_POSITION = f"""
WITH RECURSIVE mine AS (
  SELECT (SELECT count(*) FROM tasks WHERE {_WAITING} AND account_id = ?
             AND (created_at < ? OR (created_at = ? AND id < ?))) + 1 AS i,
         (SELECT min(created_at) FROM tasks WHERE {_WAITING} AND account_id = ?) AS oldest,
         (SELECT last_claim_at FROM accounts WHERE id = ?) AS last,
         (SELECT count(*) FROM tasks p WHERE p.status = 'processing' AND p.model_name = ?
             AND p.lease_expires_at >= ?) AS running,
         {mean_run_sql("?", "?")} AS mean
), accs(acc) AS (
  SELECT min(account_id) FROM tasks WHERE {_WAITING}
  UNION ALL
  SELECT (SELECT min(t.account_id) FROM tasks t
           WHERE t.status = 'submitted' AND t.model_name = ? AND t.account_id > accs.acc)
    FROM accs WHERE accs.acc IS NOT NULL
), g AS (
  SELECT accs.acc AS acc, a.last_claim_at AS last,
         (SELECT count(*) FROM (SELECT 1 AS one FROM tasks t
             WHERE t.status = 'submitted' AND t.model_name = ? AND t.account_id = accs.acc
             LIMIT (SELECT i FROM mine)) x) AS n,
         (SELECT min(t.created_at) FROM tasks t
           WHERE t.status = 'submitted' AND t.model_name = ? AND t.account_id = accs.acc)
           AS oldest
    FROM accs JOIN accounts a ON a.id = accs.acc
   WHERE accs.acc IS NOT NULL AND accs.acc <> ?
)
SELECT m.i, m.oldest, m.last, m.running, m.mean,
       (SELECT coalesce(sum(CASE WHEN g.n < m.i - 1 THEN g.n ELSE m.i - 1 END
                + CASE WHEN g.n >= m.i AND (g.last < m.last OR (g.last = m.last AND
                       (g.oldest < m.oldest OR (g.oldest = m.oldest AND g.acc < ?))))
                  THEN 1 ELSE 0 END), 0)
          FROM g)
  FROM mine m
"""


def estimate(position: int, running: int, mean_ms: Any) -> QueueInfo:
    """QueueInfo from the place in line, the model's running count and mean run time (ms)."""
    if mean_ms is None:
        return QueueInfo(position, None)
    workers = max(running, 1)
    rounds = (position - 1) // workers + (0.5 if running else 0.0)
    return QueueInfo(position, int(math.ceil(float(mean_ms) / 1000 * rounds)))


class QueueEstimates:
    """``of(task)``: its QueueInfo while it waits (one bounded statement), else None."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self._position = sessions.raw.sql(_POSITION)

    @staticmethod
    def _params(task: Any) -> tuple:
        model, account = task.model_name, task.account_id
        return (model, account, task.created_at, task.created_at, task.id, model, account,
                account, model, now_ms(), model, RECENT_RUNS,  # mine
                model, model,  # accs
                model, model, account,  # g
                account)  # fmt: skip

    @staticmethod
    def _info(row: tuple | None) -> QueueInfo | None:
        if row is None or row[1] is None:  # no longer waiting
            return None
        position = int(row[0]) + int(row[5] or 0)
        return estimate(position, int(row[3] or 0), row[4])

    def of(self, task: Any) -> QueueInfo | None:
        if task is None or task.status != TaskStatus.SUBMITTED:
            return None
        return self._info(self.sessions.raw.fetchone(self._position, self._params(task)))

    async def of_async(self, task: Any) -> QueueInfo | None:
        """``of`` on the event loop: PostgreSQL awaited there, SQLite read directly."""
        if task is None or task.status != TaskStatus.SUBMITTED:
            return None
        reads = self.sessions.loop_reads
        if reads is None:
            return self.of(task)
        return self._info(await reads.fetchone(self._position, self._params(task)))

    def of_many(self, tasks: list[Any]) -> dict[str, QueueInfo]:
        """For a page of tasks: the statement of each waiting task on it (the rest cost
        nothing)."""
        out: dict[str, QueueInfo] = {}
        for task in tasks:
            info = self.of(task)
            if info is not None:
                out[task.id] = info
        return out
