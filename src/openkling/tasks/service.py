"""The task service the API calls: create (charge, limits, policy), get, list, cancel."""

from __future__ import annotations

import builtins
import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from anyio import to_thread
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..dispatch.base import Dispatcher
from ..domain.catalog import Catalog, format_credits, milli
from ..domain.request import GenerationRequest, InputFile
from ..domain.result import TaskResult
from ..domain.status import TaskStatus
from ..domain.task import COLUMNS, StoredTask
from ..errors import (
    InvalidParameter,
    ModelPermissionDenied,
    TaskNotFound,
)
from ..media.spritesheet import make_spritesheet, sprite_key
from ..observability import logs, metrics
from ..store.db import Sessions, affected, now_ms
from ..store.models import TASKS, Account, Task
from . import credits
from .accounts import Principal
from .group_commit import GroupCommit, PendingCreate
from .lifecycle import Lifecycle
from .limits import ContentPolicy, RateLimiter
from .queue import QueueEstimates

log = logging.getLogger(__name__)


# Task ids and seeds need to be unpredictable only in the way a video is: a generator seeded once
# from the OS, not a system call (and a GIL hand-over) per create.
_random = random.Random()


class _TaskIds:
    """18 digits, time-ordered, like the official service's ids: milliseconds, then a counter
    that starts at a random point each millisecond (ids drawn in one process never repeat;
    two hosts meet only if they draw the same counter in the same millisecond)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = 0
        self._seq = 0

    def __call__(self) -> str:
        with self._lock:
            ms = int(time.time() * 1000)
            if ms <= self._ms:
                ms, self._seq = self._ms, self._seq + 1
                if self._seq >= 10**5:  # 100 000 ids in one millisecond: borrow the next one
                    ms, self._seq = ms + 1, _random.randrange(10**4)
            else:
                self._seq = _random.randrange(9 * 10**4)
            self._ms = ms
            return f"{ms:013d}{self._seq:05d}"


new_task_id = _TaskIds()
_FAMILY = 1 + COLUMNS.index("family")  # in a row of _CURRENT_AND_TASK (after the secret)


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
        self.queue = QueueEstimates(sessions)  # a waiting task's place in line
        self.rate = RateLimiter(settings.rate_limit_per_minute)
        self.policy = ContentPolicy(settings.refused_terms)
        # creates are decided and written in batches; on PostgreSQL under the accounts' row
        # locks, so the unfinished-task count and the balance hold across API hosts
        self.writer = GroupCommit(
            sessions,
            max_concurrent=settings.max_concurrent_tasks,
            on_commit=self._queue_callbacks,
            new_id=new_task_id,
        )
        self.writer.after_commit = self._dispatch

    def submit(
        self,
        account: Principal,
        req: GenerationRequest,
        inputs: Mapping[str, InputFile] | None = None,
        *,
        family: str,
    ) -> StoredTask:
        """The one way a task is created, for every door. Checks permission, policy and rate;
        stores the request's input files; charges, stores and dispatches the task in one
        transaction (shared with concurrent creates, see ``group_commit``) that also checks
        ``account``'s key is still current (``KeyChanged`` if not); and removes the stored
        inputs when any step fails, so a refused create changes nothing. ``family`` is the
        door the task came through: it is found and listed there."""
        item = self._prepare(account, req, family)
        written = self._store_inputs(inputs)
        try:
            self.writer.submit(item).result()
        except BaseException:
            self._remove_inputs(written)
            raise
        return self._accepted(item)

    async def submit_async(
        self,
        account: Principal,
        req: GenerationRequest,
        inputs: Mapping[str, InputFile] | None = None,
        *,
        family: str,
    ) -> StoredTask:
        """``submit`` for the event loop: files are written in the thread pool, and the
        writer is awaited without holding a thread."""
        item = self._prepare(account, req, family)
        written = await to_thread.run_sync(self._store_inputs, inputs) if inputs else []
        try:
            await self.writer.submit_async(item)
        except BaseException:
            if written:
                await to_thread.run_sync(self._remove_inputs, written)
            raise
        return self._accepted(item)

    def _store_inputs(self, inputs: Mapping[str, InputFile] | None) -> list[str]:
        """Write each input file; on a failure, remove those written and re-raise."""
        written: list[str] = []
        try:
            for key, file in (inputs or {}).items():
                self.lifecycle.storage.put_bytes(key, file.data, file.content_type)
                written.append(key)
        except BaseException:
            self._remove_inputs(written)
            raise
        return written

    def _remove_inputs(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.lifecycle.storage.delete(key)
            except Exception:  # the create's own error is the one to report
                log.exception("could not remove input %s of a refused request", key)

    def close(self) -> None:
        self.writer.stop()

    def _prepare(self, account: Principal, req: GenerationRequest, family: str) -> PendingCreate:
        """Everything a create decides without the store: permission, policy, rate, the row."""
        if account.allowed_models and req.model_name not in account.allowed_models:
            raise ModelPermissionDenied(
                f"model_name: this key may not use '{req.model_name}'; it may use "
                f"{', '.join(account.allowed_models)}"
            )
        self.policy.check(req.prompt)
        for shot in req.shots:
            self.policy.check(shot.prompt)
        self.rate.hit(account.id)
        cost = milli(self.catalog.price_of(req))
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
            "seed": req.seed if req.seed is not None else _random.randrange(2**31),
            "cost_milli": cost,
            "result": None,
            "callback_url": req.callback_url,
            "attempts": 0,
            "lease_owner": None,
            "lease_expires_at": None,
            "cancel_requested": False,
            "passed_over": 0,
            "created_at": now,
            "updated_at": now,
            "expired_at": None,
            "started_at": None,
        }
        # the create's transaction checks this is still the account's current key
        return PendingCreate(
            row=row,
            cost=cost,
            secret=account.secret_key,
            slots=req.n if req.makes_images else 1,
        )

    def _queue_callbacks(self, rows: list[dict[str, Any]], session: Session) -> None:
        """In the create's transaction: the outbox row of each new task with a callback_url."""
        for row in rows:
            if row["callback_url"]:
                self.lifecycle.queue_callback(session, StoredTask.from_mapping(row))

    def _dispatch(self, accepted: list[PendingCreate]) -> None:
        """After the commit, on the writer: hand the new tasks to workers."""
        for item in accepted:
            self.dispatcher.submit(item.row["id"], item.row["model_name"])
        if self.lifecycle.on_callback and any(i.row["callback_url"] for i in accepted):
            self.lifecycle.on_callback()

    def _accepted(self, item: PendingCreate) -> StoredTask:
        # the record of the row just written, as the reads return it (an ORM instance costs
        # more to build than the rest of the create)
        task = StoredTask.from_mapping(item.row)
        metrics.task_accepted(task.model_name, item.cost)
        if log.isEnabledFor(logging.INFO):
            with logs.context(task_id=task.id, model=task.model_name):
                log.info("task %s accepted: %s credits", task.id, format_credits(item.cost))
        return task

    # Reads below are Core reads (not ORM), each row made a StoredTask: the hot polling path
    # stays cheap. The statements are built once, with parameters.
    _TASKS = TASKS
    _MINE = (_TASKS.c.account_id == bindparam("account_id")) & (
        _TASKS.c.family == bindparam("family")
    )
    _BY_ID = select(_TASKS).where(_TASKS.c.id == bindparam("key"))  # its owner: see ``get``
    _BY_EXTERNAL = select(_TASKS).where(_TASKS.c.external_task_id == bindparam("key"), _MINE)

    def get(
        self,
        account: Principal,
        *,
        task_id: str | None = None,
        external_id: str | None = None,
        family: str = "text2video",
    ) -> StoredTask:
        """One task of this account made through ``family``'s door; others do not exist."""
        params = {"account_id": account.id, "family": family}
        with self.sessions.engine.connect() as conn:  # a plain read: no ORM session
            row = None
            if task_id:  # by primary key alone (see _CURRENT_AND_TASK), then whose it is
                row = conn.execute(self._BY_ID, {"key": task_id}).first()
                if row is not None and (row.account_id, row.family) != (account.id, family):
                    row = None
                if row is None:  # the path may hold an external_task_id too
                    external_id = task_id
            if row is None and external_id:
                row = conn.execute(self._BY_EXTERNAL, {**params, "key": external_id}).first()
        if row is None:
            raise TaskNotFound(f"task '{task_id or external_id}' does not exist")
        return StoredTask.from_values(row)

    # A get reads the task with the key check in one statement (``get_if_current``).
    # The task is matched by its primary key alone, its account and family compared here: a
    # condition on them in SQL lets PostgreSQL pick the (account, family) index instead and
    # scan all of the account's tasks (a plan cached from an empty table's statistics).
    _CURRENT_AND_TASK = (
        "SELECT a.secret_key, "
        + ", ".join(f"t.{c}" for c in COLUMNS)
        + " FROM accounts a LEFT JOIN tasks t ON t.id = ? WHERE a.id = ? AND a.revoked_at IS NULL"
    )

    def get_if_current(
        self, account: Principal, task_id: str, family: str
    ) -> StoredTask | None | Literal[False]:
        """The key check and the task read of a get in one statement (one round trip to the
        database): False if ``account``'s secret key is no longer the one it was cached with
        (revoked or rotated), else the task with id ``task_id``, or None if there is no such
        task (it may be an external id: see ``get``)."""
        row = self.sessions.raw.fetchone(self._current_sql(), (task_id, account.id))
        return self._current_task(row, account, family)

    async def get_if_current_async(
        self, account: Principal, task_id: str, family: str
    ) -> StoredTask | None | Literal[False]:
        """``get_if_current`` for the event loop: a network database is awaited there (no
        thread), SQLite (a local file) read directly."""
        loop_reads = self.sessions.loop_reads
        if loop_reads is None:
            return self.get_if_current(account, task_id, family)
        row = await loop_reads.fetchone(self._current_sql(), (task_id, account.id))
        return self._current_task(row, account, family)

    def _current_sql(self) -> str:
        sql = self._current_sql_text
        if sql is None:
            sql = self._current_sql_text = self.sessions.raw.sql(self._CURRENT_AND_TASK)
        return sql

    _current_sql_text: str | None = None

    def _current_task(
        self, row: Sequence[Any] | None, account: Principal, family: str
    ) -> StoredTask | None | Literal[False]:
        if row is None or row[0] != account.secret_key:
            return False
        # whose it is is known before the record is made (COLUMNS starts id, account_id)
        if row[1] is None or row[2] != account.id or row[_FAMILY] != family:
            return None
        return StoredTask.from_values(row[1:])

    def video_owner(self, account: Principal, video_id: str) -> StoredTask | None:
        """The task of this account (any door) whose result holds the video ``video_id``, or
        None. Video ids are ``<task id>-<attempt>``: the task is read by its primary key."""
        task_id = video_id.rpartition("-")[0]
        if not task_id:
            return None
        with self.sessions.engine.connect() as conn:
            row = conn.execute(self._BY_ID, {"key": task_id}).first()
        if row is None or row.account_id != account.id:
            return None
        return StoredTask.from_values(row)

    def list(
        self, account: Principal, *, page: int, size: int, family: str = "text2video"
    ) -> builtins.list[StoredTask]:
        t = self._TASKS
        with self.sessions() as s:
            rows = s.execute(
                select(t)
                .where(t.c.account_id == account.id, t.c.family == family)
                .order_by(t.c.created_at.desc(), t.c.id.desc())
                .offset((page - 1) * size)
                .limit(size)
            ).all()
        return [StoredTask.from_values(row) for row in rows]

    def page(
        self, account: Principal, *, family: str, after: str | None, limit: int, ascending: bool
    ) -> tuple[builtins.list[StoredTask], bool]:
        """Up to ``limit`` tasks after the task id ``after`` (exclusive; it need not exist any
        more), in id order, which is creation order; and whether more follow."""
        t = self._TASKS
        query = select(t).where(t.c.account_id == account.id, t.c.family == family)
        if after is not None:
            query = query.where(t.c.id > after if ascending else t.c.id < after)
        order = t.c.id.asc() if ascending else t.c.id.desc()
        with self.sessions() as s:
            rows = s.execute(query.order_by(order).limit(limit + 1)).all()
        return [StoredTask.from_values(row) for row in rows[:limit]], len(rows) > limit

    def delete(
        self, account: Principal, task_id: str, *, family: str, also: tuple[str, ...] = ()
    ) -> None:
        """Remove a finished task and its files (result, cover, inputs, and ``also``). The
        ledger keeps its charge and refund. A task still running cannot be deleted."""
        task = self.get(account, task_id=task_id, family=family)
        if not task.finished:
            raise InvalidParameter(
                f"video is still {task.status}; only a finished video can be deleted",
                param="video_id",
            )
        t = self._TASKS
        with self.sessions.begin() as s:
            gone = affected(
                s.execute(delete(t).where(t.c.id == task.id, t.c.account_id == account.id))
            )
        if not gone:  # a concurrent delete won
            raise TaskNotFound(f"task '{task_id}' does not exist")
        keys = list(also) + GenerationRequest.model_validate(task.request).input_keys()
        if task.result:
            result = TaskResult.model_validate(task.result)
            keys += result.keys() + [sprite_key(v.key) for v in result.videos]
        for key in dict.fromkeys(keys):
            try:
                self.lifecycle.storage.delete(key)
            except Exception:  # the row is gone; a stray file is logged, not fatal
                log.exception("task %s: could not delete file %s", task.id, key)

    def spritesheet(
        self, account: Principal, task_id: str, *, family: str, video_key: str
    ) -> bytes:
        """The spritesheet of a task's video (``video_key``), made from its frames on first
        request and kept beside it (``<video>-sprite.jpg``, removed with the task).

        A delete may race the first request: the sheet is written first, then the task is
        looked up again; a task gone by then has its sheet removed here, and one deleted after
        has it removed by its delete (which removes files after the row). Either way no file
        outlives its task."""
        key = sprite_key(video_key)
        storage = self.lifecycle.storage
        try:
            return storage.read(key)
        except FileNotFoundError:
            pass
        sheet = make_spritesheet(storage.read(video_key))
        storage.put_bytes(key, sheet, "image/jpeg")
        t = self._TASKS
        with self.sessions() as s:
            still = s.execute(
                select(t.c.id).where(t.c.id == task_id, t.c.account_id == account.id)
            ).first()
        if still is None:
            storage.delete(key)
            raise TaskNotFound(f"task '{task_id}' does not exist")
        return sheet

    def cancel(self, account: Principal, task_id: str, *, family: str = "text2video") -> StoredTask:
        task = self.get(account, task_id=task_id, family=family)
        if task.finished:
            raise InvalidParameter(
                f"task_id: task '{task.id}' has already finished ({task.status}); only submitted "
                "or processing tasks can be cancelled"
            )
        with self.sessions.begin() as s:
            row = s.get(Task, task.id)
            if row is None:  # deleted meanwhile
                raise TaskNotFound(f"task '{task_id}' does not exist")
            self.lifecycle.request_cancel(s, row)
            task = StoredTask.from_object(row)
        if self.lifecycle.on_callback:
            self.lifecycle.on_callback()
        return task

    def balance(self, account: Principal) -> tuple[int, int]:
        with self.sessions() as s:
            current = s.execute(
                select(Account.balance_milli).where(Account.id == account.id)
            ).scalar_one()
            return credits.granted_total(s, account.id), current
