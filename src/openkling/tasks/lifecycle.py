"""Task state changes: the one place a status moves, with leases, refunds and callbacks."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..config import Settings
from ..contract.kling.present import task_object
from ..contract.kling2026.present import task_record
from ..domain.status import TaskStatus, check_transition
from ..domain.task import StoredTask
from ..domain.vocabulary import FAMILIES_2026
from ..observability import metrics
from ..storage.base import Storage
from ..store.db import Sessions, affected, now_ms
from ..store.models import Task
from . import callbacks, credits
from .run import Run
from .scheduling import Busy, Rerank, Scheduler

log = logging.getLogger(__name__)

CANCELLED_MSG = "task was cancelled"


class Lifecycle:
    """Moves tasks between states. Every status change goes through ``transition``."""

    def __init__(self, settings: Settings, sessions: Sessions, storage: Storage):
        self.settings = settings
        self.sessions = sessions
        self.storage = storage
        self.on_callback: Callable[[], None] | None = None  # wakes the sender, if any here
        self.scheduler = Scheduler(
            max_skips=settings.affinity_max_skips, load_seconds=settings.pipeline_load_seconds
        )

    # -- the one status-changing function --------------------------------------------------
    def transition(
        self,
        session: Session,
        task: Task,
        new: TaskStatus,
        *,
        msg: str = "",
        result: dict | None = None,
        guard_owner: str | None = None,
    ) -> bool:
        """Move ``task`` to ``new`` if it is still where we saw it; False if another won."""
        check_transition(task.status, new)
        now = max(now_ms(), task.updated_at)
        conditions = [Task.id == task.id, Task.status == task.status]
        if guard_owner is not None and new is not TaskStatus.PROCESSING:
            conditions.append(Task.lease_owner == guard_owner)
        values: dict = {"status": new.value, "status_msg": msg, "updated_at": now}
        if new.is_terminal():
            values.update(lease_owner=None, lease_expires_at=None)
            values["progress"] = 100 if new is TaskStatus.SUCCEED else task.progress
        if result is not None:
            values["result"] = result
        if new is TaskStatus.PROCESSING:
            values.update(
                started_at=now,
                lease_owner=guard_owner,
                lease_expires_at=now + int(self.settings.lease_seconds * 1000),
                attempts=task.attempts + 1,
            )
        changed = affected(session.execute(update(Task).where(*conditions).values(**values))) == 1
        if not changed:
            return False
        session.refresh(task)
        refunded = 0
        if new is TaskStatus.FAILED:
            if credits.refund(session, task.account_id, task.id, task.cost_milli, msg):
                refunded = task.cost_milli
        if task.callback_url:
            self.queue_callback(session, StoredTask.from_object(task))
        metrics.task_transition(
            task.model_name, new, created_at_ms=task.created_at, refund_milli=refunded
        )
        log.info("task %s -> %s%s", task.id, new.value, f" ({msg})" if msg else "")
        return True

    def queue_callback(self, session: Session, task: StoredTask) -> None:
        """In ``session``'s transaction: the outbox row posting ``task`` as it is now."""
        if not task.callback_url:
            return
        # a task calls back in the shape of the API that made it (Kling: the "new callback"
        # body for tasks of the 2026 endpoints, the legacy one for the others)
        present = task_record if task.family in FAMILIES_2026 else task_object
        payload = present(
            task,
            self.storage,
            base_url=self.settings.public_base,
            expires_in=self.settings.url_expiry_seconds,
        )
        callbacks.enqueue(
            session,
            task_id=task.id,
            account_id=task.account_id,
            url=task.callback_url,
            payload=payload,
        )

    # -- worker side -------------------------------------------------------------------------
    def claim(self, task_id: str, owner: str | None = None) -> Run | None:
        """Take a submitted task, or one whose lease ran out, as a new run. None if not ours.
        The run's token starts with ``owner`` (the worker process), so a process known to be
        dead can have its runs taken over at once (``take_over``)."""
        token = f"{owner}-{uuid.uuid4().hex[:16]}" if owner else uuid.uuid4().hex
        task = self._take(task_id, token)
        if task is None:
            return None
        if task.callback_url and self.on_callback:
            self.on_callback()
        return Run(self, StoredTask.from_object(task), token)

    def claim_next(
        self, models: Sequence[str], owner: str | None = None, *, loaded: str | None = None
    ) -> Run | None:
        """The next task a free worker serving ``models`` runs, decided here by the fair rule
        (tasks/scheduling.py); ``loaded`` is the model whose pipeline the worker holds. A task
        whose run's lease ran out goes first. None when nothing waits, or when what waits is
        left to the workers already running its model (the scheduler's rule 5)."""
        token = f"{owner}-{uuid.uuid4().hex[:16]}" if owner else uuid.uuid4().hex
        names = list(models)
        pause = 0.002
        for _ in range(200):
            try:
                task = self._take_next(names, token, loaded)
            except Busy:  # every candidate account is mid-claim elsewhere: look again soon
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
                continue
            except Rerank:
                continue
            if task is None:
                return None
            if task.callback_url and self.on_callback:
                self.on_callback()
            return Run(self, StoredTask.from_object(task), token)
        return None

    def _take_next(self, models: list[str], owner: str, loaded: str | None) -> Task | None:
        for _ in range(20):  # tasks that end on the way (cancelled, out of attempts) are skipped
            now = now_ms()
            expired_id = None
            with self.sessions.begin() as s:
                expired_id = s.execute(
                    select(Task.id)
                    .where(
                        Task.status == TaskStatus.PROCESSING,
                        Task.lease_expires_at < now,
                        Task.model_name.in_(models),
                    )
                    .order_by(Task.lease_expires_at)
                    .limit(1)
                ).scalar()
                if expired_id is None:
                    choice = self.scheduler.choose(s, models, loaded, now)
                    if choice is None:
                        return None
                    task = choice.task
                    if task.attempts >= self.settings.max_attempts:
                        self._fail_exhausted(s, task)
                        continue
                    if task.cancel_requested:
                        self._force_fail(s, task, CANCELLED_MSG)
                        continue
                    if not self.transition(s, task, TaskStatus.PROCESSING, guard_owner=owner):
                        continue
                    self.scheduler.mark_claimed(s, choice)
                    if choice.passed_over is not None:
                        metrics.affinity_pass_over(task.model_name)
                    return task
            taken = self._take(expired_id, owner)  # a run whose worker went away: again
            if taken is not None:
                return taken
        return None

    def _take(self, task_id: str, owner: str) -> Task | None:
        now = now_ms()
        with self.sessions.begin() as s:
            task = s.get(Task, task_id)
            if task is None or TaskStatus(task.status).is_terminal():
                return None
            running = task.status == TaskStatus.PROCESSING
            expired = running and (task.lease_expires_at or 0) < now
            if running and not expired:
                return None
            if task.attempts >= self.settings.max_attempts:
                self._fail_exhausted(s, task)
                return None
            if task.cancel_requested:
                self._force_fail(s, task, CANCELLED_MSG)
                return None
            if expired:
                log.warning(
                    "task %s: lease of %s expired, running it again", task.id, task.lease_owner
                )
                previous = (
                    Task.lease_owner.is_(None)
                    if task.lease_owner is None
                    else Task.lease_owner == task.lease_owner
                )
                taken = affected(
                    s.execute(
                        update(Task)
                        .where(Task.id == task.id, Task.status == TaskStatus.PROCESSING, previous)
                        .values(
                            lease_owner=owner,
                            lease_expires_at=now + int(self.settings.lease_seconds * 1000),
                            attempts=task.attempts + 1,
                            progress=0,
                            started_at=now,
                        )
                    )
                )
                if taken != 1:
                    return None
                s.refresh(task)
                return task
            if not self.transition(s, task, TaskStatus.PROCESSING, guard_owner=owner):
                return None
            return task

    def _force_fail(self, s: Session, task: Task, msg: str) -> None:
        self.transition(s, task, TaskStatus.FAILED, msg=msg)

    def _fail_exhausted(self, s: Session, task: Task) -> None:
        msg = (
            f"task stopped after {task.attempts} attempts: the worker running it went away "
            "each time"
        )
        if task.status == TaskStatus.SUBMITTED:
            self._force_fail(s, task, msg)
            return
        # processing with an expired lease: fail it under the stale owner's name
        self.transition(s, task, TaskStatus.FAILED, msg=msg, guard_owner=task.lease_owner)

    def renew(self, task_id: str, owner: str, progress: int | None = None) -> tuple[bool, bool]:
        """Extend the lease; returns (still ours, cancel requested)."""
        values: dict = {
            "lease_expires_at": now_ms() + int(self.settings.lease_seconds * 1000),
        }
        if progress is not None:
            values["progress"] = progress
        with self.sessions.begin() as s:
            renewed = s.execute(
                update(Task)
                .where(
                    Task.id == task_id,
                    Task.lease_owner == owner,
                    Task.status == TaskStatus.PROCESSING,
                )
                .values(**values)
            )
            ours = affected(renewed) == 1
            cancel = s.execute(select(Task.cancel_requested).where(Task.id == task_id)).scalar()
        return ours, bool(cancel)

    def release(self, task_id: str, owner: str) -> bool:
        """Give a running task back (graceful shutdown): its lease ends now and this run does
        not count as an attempt. It is held by no run, so a late renewal cannot revive it."""
        with self.sessions.begin() as s:
            released = s.execute(
                update(Task)
                .where(
                    Task.id == task_id,
                    Task.lease_owner == owner,
                    Task.status == TaskStatus.PROCESSING,
                )
                .values(
                    lease_owner=None,
                    lease_expires_at=0,
                    attempts=Task.attempts - 1,
                )
            )
            return affected(released) == 1

    def finish(
        self, task_id: str, owner: str, *, result: dict | None = None, error: str = ""
    ) -> bool:
        """Record the outcome of a run we hold the lease for (idempotent: once per task)."""
        with self.sessions.begin() as s:
            task = s.get(Task, task_id)
            if task is None or task.status != TaskStatus.PROCESSING or task.lease_owner != owner:
                return False
            if error:
                done = self.transition(s, task, TaskStatus.FAILED, msg=error, guard_owner=owner)
            else:
                done = self.transition(
                    s, task, TaskStatus.SUCCEED, result=result, guard_owner=owner
                )
            notify = done and bool(task.callback_url)
        if notify and self.on_callback:  # the sender posts it now, not at its next poll
            self.on_callback()
        return done

    # -- API side ------------------------------------------------------------------------------
    def request_cancel(self, session: Session, task: Task) -> None:
        """Cancel now if nothing runs it; else flag it so its worker stops at the next step."""
        if task.status == TaskStatus.SUBMITTED:
            if self.transition(session, task, TaskStatus.FAILED, msg=CANCELLED_MSG):
                return
            session.refresh(task)
        session.execute(update(Task).where(Task.id == task.id).values(cancel_requested=True))
        session.refresh(task)

    def take_over(self, dead_owner: str) -> list[str]:
        """End the leases of a process known to be dead (its data-dir lock was free), so its
        running tasks are taken again now, not when their leases run out. The crashed run
        still counts as an attempt."""
        with self.sessions.begin() as s:
            ids = s.execute(
                update(Task)
                .where(
                    Task.status == TaskStatus.PROCESSING,
                    Task.lease_owner.startswith(f"{dead_owner}-", autoescape=True),
                )
                .values(lease_expires_at=0)
                .returning(Task.id)
            ).scalars()
            return list(ids)

    def stale_task_ids(
        self, *, submitted_older_than_ms: int, limit: int = 500
    ) -> list[tuple[str, str]]:
        """Tasks nobody is running: submitted a while ago, or processing with a dead lease."""
        now = now_ms()
        with self.sessions() as s:
            rows = s.execute(
                select(Task.id, Task.model_name)
                .where(
                    or_(
                        (Task.status == TaskStatus.SUBMITTED)
                        & (Task.updated_at < now - submitted_older_than_ms),
                        (Task.status == TaskStatus.PROCESSING) & (Task.lease_expires_at < now),
                    )
                )
                .order_by(Task.created_at)
                .limit(limit)
            ).all()
        return [(task_id, model_name) for task_id, model_name in rows]
