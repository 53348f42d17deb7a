"""The task service the API calls: create (charge, limits, policy), get, list, cancel."""

from __future__ import annotations

import logging
import secrets
import time

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..catalog import Catalog, milli
from ..config import Settings
from ..dispatch.base import Dispatcher
from ..errors import (
    InvalidParameter,
    ModelPermissionDenied,
    TaskNotFound,
    TooManyConcurrentTasks,
)
from ..request import GenerationRequest
from ..store.db import Sessions, now_ms
from ..store.models import Account, Task
from . import credits
from .accounts import Principal
from .lifecycle import Lifecycle
from .limits import ContentPolicy, RateLimiter
from .result import TaskResult
from .status import TaskStatus

log = logging.getLogger(__name__)


def new_task_id() -> str:
    """18 digits, time-ordered, like the official service's ids."""
    return f"{int(time.time() * 1000):013d}{secrets.randbelow(10**5):05d}"


class TaskService:
    def __init__(
        self,
        settings: Settings,
        sessions: Sessions,
        catalog: Catalog,
        lifecycle: Lifecycle,
        dispatcher: Dispatcher,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.catalog = catalog
        self.lifecycle = lifecycle
        self.dispatcher = dispatcher
        self.rate = RateLimiter(settings.rate_limit_per_minute)
        # SQLite's write transactions are already serial (BEGIN IMMEDIATE); elsewhere the count
        # of unfinished tasks is made atomic with the insert by a lock on the account's row
        self._lock_account_row = sessions.engine.dialect.name != "sqlite"
        self.policy = ContentPolicy(settings.refused_terms)

    def create(
        self, account: Principal, req: GenerationRequest, *, family: str = "text2video"
    ) -> Task:
        """Check permission, policy and limits, charge, store and dispatch. Any error changes
        nothing. ``family`` is the door the task came through: it is found and listed there."""
        if account.allowed_models and req.model_name not in account.allowed_models:
            raise ModelPermissionDenied(
                f"model_name: this key may not use '{req.model_name}'; it may use "
                f"{', '.join(account.allowed_models)}"
            )
        self.policy.check(req.prompt)
        for shot in req.shots:
            self.policy.check(shot.prompt)
        self.rate.hit(account.id)
        cost = milli(self.catalog.models[req.model_name].price(req.mode, req.duration))
        now = now_ms()
        row = {
            "id": new_task_id(),
            "account_id": account.id,
            "external_task_id": req.external_task_id,
            "model_name": req.model_name,
            "family": family,
            "request": req.model_dump(mode="json"),
            "status": TaskStatus.SUBMITTED.value,
            "status_msg": "",
            "progress": 0,
            "seed": req.seed if req.seed is not None else secrets.randbelow(2**31),
            "cost_milli": cost,
            "result": None,
            "callback_url": req.callback_url,
            "attempts": 0,
            "lease_owner": None,
            "lease_expires_at": None,
            "cancel_requested": False,
            "created_at": now,
            "updated_at": now,
        }
        task = Task(**row)  # never added to a session: the row is written by one INSERT
        try:
            with self.sessions.begin() as s:  # the only writer's critical section: keep it lean
                if req.external_task_id and self._by_external(s, account.id, req.external_task_id):
                    raise self._duplicate(req.external_task_id)
                self._check_concurrency(s, account.id)
                credits.charge(s, account.id, task.id, cost)
                s.execute(insert(Task.__table__), row)
                self.lifecycle.queue_callback(s, task)
        except IntegrityError as exc:  # a concurrent create with the same external id won
            raise self._duplicate(req.external_task_id) from exc
        self.dispatcher.submit(task.id, task.model_name)
        if self.lifecycle.on_callback and task.callback_url:
            self.lifecycle.on_callback()
        return task

    @staticmethod
    def _duplicate(external_id: str | None) -> InvalidParameter:
        return InvalidParameter(
            f"external_task_id: '{external_id}' is already used by another task of this account"
        )

    def _check_concurrency(self, s: Session, account_id: int) -> None:
        """Refuse a create over the limit. Holding the account's row lock until commit makes
        count + insert one step: racing creates of one account queue here, other accounts
        do not wait."""
        limit = self.settings.max_concurrent_tasks
        if limit <= 0:
            return
        if self._lock_account_row:
            s.execute(select(Account.id).where(Account.id == account_id).with_for_update())
        running = s.execute(
            select(func.count())
            .select_from(Task)
            .where(Task.account_id == account_id, Task.status.in_(("submitted", "processing")))
        ).scalar_one()
        if running >= limit:
            raise TooManyConcurrentTasks(
                f"this account has {running} unfinished tasks; the limit is {limit}"
            )

    @staticmethod
    def _by_external(s: Session, account_id: int, external_id: str) -> Task | None:
        return s.execute(
            select(Task).where(Task.account_id == account_id, Task.external_task_id == external_id)
        ).scalar_one_or_none()

    # Reads below return plain rows (Core, not ORM): the hot polling path stays cheap. A row
    # has the same attribute names as a Task.
    _TASKS = Task.__table__

    def get(
        self,
        account: Principal,
        *,
        task_id: str | None = None,
        external_id: str | None = None,
        family: str = "text2video",
    ):
        """One task of this account made through ``family``'s door; others do not exist."""
        t = self._TASKS
        mine = (t.c.account_id == account.id) & (t.c.family == family)
        with self.sessions() as s:
            row = None
            if task_id:
                row = s.execute(select(t).where(t.c.id == task_id, mine)).first()
                if row is None:  # the path may hold an external_task_id too
                    external_id = task_id
            if row is None and external_id:
                row = s.execute(select(t).where(t.c.external_task_id == external_id, mine)).first()
            if row is None:
                raise TaskNotFound(f"task '{task_id or external_id}' does not exist")
            return row

    def list(self, account: Principal, *, page: int, size: int, family: str = "text2video") -> list:
        t = self._TASKS
        with self.sessions() as s:
            return s.execute(
                select(t)
                .where(t.c.account_id == account.id, t.c.family == family)
                .order_by(t.c.created_at.desc(), t.c.id.desc())
                .offset((page - 1) * size)
                .limit(size)
            ).all()

    def page(
        self, account: Principal, *, family: str, after: str | None, limit: int, ascending: bool
    ) -> tuple[list, bool]:
        """Up to ``limit`` tasks after the task id ``after`` (exclusive; it need not exist any
        more), in id order, which is creation order; and whether more follow."""
        t = self._TASKS
        query = select(t).where(t.c.account_id == account.id, t.c.family == family)
        if after is not None:
            query = query.where(t.c.id > after if ascending else t.c.id < after)
        order = t.c.id.asc() if ascending else t.c.id.desc()
        with self.sessions() as s:
            rows = s.execute(query.order_by(order).limit(limit + 1)).all()
        return rows[:limit], len(rows) > limit

    def delete(
        self, account: Principal, task_id: str, *, family: str, also: tuple[str, ...] = ()
    ) -> None:
        """Remove a finished task and its files (result, cover, inputs, and ``also``). The
        ledger keeps its charge and refund. A task still running cannot be deleted."""
        task = self.get(account, task_id=task_id, family=family)
        if not TaskStatus(task.status).is_terminal():
            raise InvalidParameter(
                f"video is still {task.status}; only a finished video can be deleted",
                param="video_id",
            )
        t = self._TASKS
        with self.sessions.begin() as s:
            gone = s.execute(
                delete(t).where(t.c.id == task.id, t.c.account_id == account.id)
            ).rowcount
        if not gone:  # a concurrent delete won
            raise TaskNotFound(f"task '{task_id}' does not exist")
        keys = list(also) + GenerationRequest.model_validate(task.request).input_keys()
        if task.result:
            keys += TaskResult.model_validate(task.result).keys()
        for key in keys:
            try:
                self.lifecycle.storage.delete(key)
            except Exception:  # the row is gone; a stray file is logged, not fatal
                log.exception("task %s: could not delete file %s", task.id, key)

    def cancel(self, account: Principal, task_id: str, *, family: str = "text2video") -> Task:
        task = self.get(account, task_id=task_id, family=family)
        if TaskStatus(task.status).is_terminal():
            raise InvalidParameter(
                f"task_id: task '{task.id}' has already finished ({task.status}); only submitted "
                "or processing tasks can be cancelled"
            )
        with self.sessions.begin() as s:
            task = s.get(Task, task.id)
            self.lifecycle.request_cancel(s, task)
        if self.lifecycle.on_callback:
            self.lifecycle.on_callback()
        return task

    def balance(self, account: Principal) -> tuple[int, int]:
        with self.sessions() as s:
            current = s.execute(
                select(Account.balance_milli).where(Account.id == account.id)
            ).scalar_one()
            return credits.granted_total(s, account.id), current
