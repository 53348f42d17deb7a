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

from sqlalchemy import text

from ..domain.queue import QueueInfo
from ..store.db import Sessions, now_ms

RECENT_RUNS = 20

# one statement: the model's waiting tasks grouped by account (index ix_tasks_queue), with the
# model's running count and recent mean run time as uncomputed-per-row subqueries
# (ix_tasks_status_lease, ix_tasks_model_runs)
_QUEUE = text(
    """
SELECT t.account_id, a.last_claim_at, count(*), min(t.created_at),
       sum(CASE WHEN t.created_at < :created OR (t.created_at = :created AND t.id < :id)
           THEN 1 ELSE 0 END),
       (SELECT count(*) FROM tasks p
         WHERE p.status = 'processing' AND p.model_name = :model AND p.lease_expires_at >= :now),
       (SELECT avg(r.updated_at - r.started_at) FROM
         (SELECT updated_at, started_at FROM tasks
           WHERE model_name = :model AND status = 'succeed' AND started_at IS NOT NULL
           ORDER BY updated_at DESC LIMIT :recent) r)
FROM tasks t JOIN accounts a ON a.id = t.account_id
WHERE t.status = 'submitted' AND t.model_name = :model
GROUP BY t.account_id, a.last_claim_at
"""
)


def estimate(rows: list[Any], task: Any) -> QueueInfo | None:
    """The place of ``task`` from the grouped rows of its model's queue."""
    mine = next((r for r in rows if r[0] == task.account_id), None)
    if mine is None:
        return None
    index = int(mine[4] or 0) + 1  # its account's index-th waiting task of the model
    own = (int(mine[1] or 0), int(mine[3]), int(mine[0]))
    ahead = index - 1
    for account_id, last, count, oldest, _, _, _ in rows:
        if account_id == task.account_id:
            continue
        ahead += min(int(count), index - 1)
        if int(count) >= index and (int(last or 0), int(oldest), int(account_id)) < own:
            ahead += 1  # served before it in its round
    position = ahead + 1
    running, mean_ms = int(rows[0][5] or 0), rows[0][6]
    if mean_ms is None:
        return QueueInfo(position, None)
    workers = max(running, 1)
    rounds = (position - 1) // workers + (0.5 if running else 0.0)
    return QueueInfo(position, int(math.ceil(float(mean_ms) / 1000 * rounds)))


class QueueEstimates:
    """``of(task)``: its QueueInfo while it waits (one query), else None."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def of(self, task: Any) -> QueueInfo | None:
        if task is None or task.status != "submitted":
            return None
        params = {
            "model": task.model_name,
            "created": task.created_at,
            "id": task.id,
            "now": now_ms(),
            "recent": RECENT_RUNS,
        }
        with self.sessions() as s:
            rows = s.execute(_QUEUE, params).all()
        return estimate(rows, task)

    def of_many(self, tasks: list[Any]) -> dict[str, QueueInfo]:
        """For a page of tasks: one query per waiting task on it (the rest cost nothing)."""
        out: dict[str, QueueInfo] = {}
        for task in tasks:
            info = self.of(task)
            if info is not None:
                out[task.id] = info
        return out
