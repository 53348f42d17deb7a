"""Group commit of creates: concurrent creates share one transaction, each with its own answer.

A create's write (duplicate check, concurrency limit, charge, ledger row, task row, callback row)
is a handful of short statements, and their commit is what limits create throughput: on SQLite
writers are serial, on PostgreSQL each commit waits for the WAL flush. A batch is every create
waiting when the writer is free: on PostgreSQL the writer is a thread; on SQLite (a local file,
a batch commits in about a millisecond) the event loop commits the creates its request handlers
queued in one pass, with no hand-over between threads. A batch is decided in arrival order in one
transaction, with the accounts' balances, unfinished-task counts and external ids read once
(under the accounts' row locks on PostgreSQL, under the database lock on SQLite), so each create
gets exactly the answer it would have had alone: accepted, or the same error with the same
message. If the batch's transaction fails as a whole (a create on another host took an external
id meanwhile), each create is retried alone, so errors stay per request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Table, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.status import UNFINISHED
from ..domain.vocabulary import IMAGE_FAMILY
from ..errors import InvalidParameter, TooManyConcurrentTasks
from ..store.db import Sessions, now_ms
from ..store.models import LEDGER, TASKS, Account, Task
from . import credits

log = logging.getLogger(__name__)

MAX_BATCH = 128
# the concurrency slots an unfinished task holds: one, or for an image task its ``n`` (as
# Kling counts them: n = 9 holds 9)
SLOTS = case(
    (Task.family == IMAGE_FAMILY, func.coalesce(Task.request["n"].as_integer(), 1)), else_=1
)


@dataclass
class PendingCreate:
    """One create waiting for the writer: its task row and cost, and where its answer goes:
    a thread's Future, or an event loop's (answered through the loop, one wake-up a batch)."""

    row: dict
    cost: int
    slots: int = 1  # concurrency slots it holds until it ends
    future: Future | asyncio.Future = field(default_factory=Future)
    # the secret key the create's credentials were cached with, when they have not been
    # re-checked yet: the transaction checks it is still the account's current one
    secret: str | None = None
    retried: bool = False
    outcome: BaseException | None = None

    @property
    def account_id(self) -> int:
        return self.row["account_id"]

    @property
    def external_id(self) -> str | None:
        return self.row["external_task_id"]


class KeyChanged(Exception):
    """A create's cached credentials are no longer current (keys revoked or rotated): the
    caller checks them again for the answer. Never reaches a client as such."""


def duplicate_error(external_id: str | None) -> InvalidParameter:
    return InvalidParameter(
        f"external_task_id: '{external_id}' is already used by another task of this account"
    )


class GroupCommit:
    """The writer thread. ``submit`` queues a create and returns a future that resolves to its
    task row (accepted) or raises its error; nothing is written for a refused create."""

    def __init__(
        self,
        sessions: Sessions,
        *,
        max_concurrent: int,
        on_commit: Callable[[list[dict[str, Any]], Session], None],
        new_id: Callable[[], str],
    ) -> None:
        self.sessions = sessions
        self.max_concurrent = max_concurrent
        self.on_commit = on_commit  # (accepted rows, session): queue callbacks, in the tx
        self.new_id = new_id
        sqlite = sessions.engine.dialect.name == "sqlite"
        self._lock_rows = not sqlite  # SQLite: BEGIN IMMEDIATE locks the whole database
        # SQLite is a local file: an event loop commits its own batch (no thread hand-over);
        # a database across the network is written from the writer thread
        self.on_loop = sqlite
        self._pending: list[PendingCreate] = []
        self._queue: queue.SimpleQueue[PendingCreate | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.after_commit: Callable[[list[PendingCreate]], None] | None = None

    def submit(self, item: PendingCreate) -> Future | asyncio.Future:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._loop, name="create-writer", daemon=True
                    )
                    self._thread.start()
        self._queue.put(item)
        return item.future

    def submit_async(self, item: PendingCreate) -> asyncio.Future:
        """For a coroutine on the running loop: await the returned future. On SQLite the loop
        commits everything queued by the time its ready callbacks have run, in one go."""
        loop = asyncio.get_running_loop()
        item.future = loop.create_future()
        if not self.on_loop:
            self.submit(item)
            return item.future
        if not self._pending:
            loop.call_soon(self._flush_on_loop)
        self._pending.append(item)
        return item.future

    def _flush_on_loop(self) -> None:
        batch, self._pending = self._pending, []
        for start in range(0, len(batch), MAX_BATCH):
            self._commit(batch[start : start + MAX_BATCH])

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    # -- the writer ----------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[PendingCreate]) -> None:
        try:
            accepted = self._write(batch)
        except Exception as exc:
            if len(batch) > 1:  # decide each alone: its own exact error, the others go ahead
                log.info("group commit of %d creates failed (%s); one by one", len(batch), exc)
                for item in batch:
                    self._commit([item])
                return
            self._fail_alone(batch[0], exc)
            return
        if self.after_commit is not None and accepted:
            try:
                self.after_commit(accepted)
            except Exception:  # dispatch is retried by the sweeper; the tasks are stored
                log.exception("after-commit of %d creates failed", len(accepted))
        _answer(batch)

    def _fail_alone(self, item: PendingCreate, exc: Exception) -> None:
        if isinstance(exc, IntegrityError):
            if item.external_id and self._external_taken(item):
                item.outcome = duplicate_error(item.external_id)
                _answer([item])
                return
            if not item.retried:  # a task id drawn twice (by another host): draw again, once
                item.row["id"], item.retried = self.new_id(), True
                self._commit([item])
                return
        log.error("create failed: %s", exc, exc_info=exc)
        item.outcome = exc
        _answer([item])

    def _external_taken(self, item: PendingCreate) -> bool:
        with self.sessions() as s:
            return (
                s.execute(
                    select(Task.id).where(
                        Task.account_id == item.account_id,
                        Task.external_task_id == item.external_id,
                    )
                ).first()
                is not None
            )

    def _write(self, batch: list[PendingCreate]) -> list[PendingCreate]:
        """Decide every create of ``batch`` in order and write the accepted ones; refused ones
        get their error now. Raises (and writes nothing) if the transaction fails."""
        accounts = sorted({i.account_id for i in batch})
        refused: list[tuple[PendingCreate, Exception]] = []
        for item in batch:
            item.outcome = None
        accepted: list[PendingCreate] = []
        with self.sessions.begin() as s:
            q = select(
                Account.id, Account.balance_milli, Account.secret_key, Account.revoked_at
            ).where(Account.id.in_(accounts))
            if self._lock_rows:  # one lock per account, taken in id order: no deadlock
                q = q.order_by(Account.id).with_for_update()
            balance: dict[int, int] = {}
            current: dict[int, str] = {}  # the secret keys of accounts not revoked
            for acct, milli, secret, revoked_at in s.execute(q):
                balance[acct] = milli
                if revoked_at is None:
                    current[acct] = secret
            running: dict[int, int] = {}
            if self.max_concurrent > 0:
                running = dict(
                    s.execute(
                        select(Task.account_id, func.sum(SLOTS))
                        .where(Task.account_id.in_(accounts), Task.status.in_(UNFINISHED))
                        .group_by(Task.account_id)
                    ).all()
                )
            wanted = {i.external_id for i in batch if i.external_id}
            taken: set[tuple[int, str | None]] = set()
            if wanted:
                found = s.execute(
                    select(Task.account_id, Task.external_task_id).where(
                        Task.account_id.in_(accounts), Task.external_task_id.in_(wanted)
                    )
                )
                taken = {(account_id, external) for account_id, external in found}
            ledger: list[dict] = []
            spent: dict[int, int] = {}
            now = now_ms()
            for item in batch:
                acct, cost = item.account_id, item.cost
                if item.secret is not None and current.get(acct) != item.secret:
                    refused.append((item, KeyChanged()))
                    continue
                error = self._refusal(item, taken, running.get(acct, 0), balance.get(acct, 0))
                if error is not None:
                    refused.append((item, error))
                    continue
                if item.external_id:
                    taken.add((acct, item.external_id))
                running[acct] = running.get(acct, 0) + item.slots
                balance[acct] -= cost
                spent[acct] = spent.get(acct, 0) + cost
                ledger.append(credits.charge_row(acct, item.row["id"], cost, balance[acct], now))
                accepted.append(item)
            for acct, total in spent.items():
                if total:
                    after = s.execute(
                        update(Account)
                        .where(Account.id == acct, Account.balance_milli - total >= 0)
                        .values(balance_milli=Account.balance_milli - total)
                        .returning(Account.balance_milli)
                    ).scalar_one_or_none()
                    if after != balance[acct]:  # only if the lock did not hold: never commit
                        raise RuntimeError(f"account {acct}: balance moved during the charge")
            if accepted:
                rows = [i.row for i in accepted]
                if self._lock_rows and len(rows) > 1:  # PostgreSQL (one alone: see _copy)
                    _copy(s, TASKS, rows)
                    _copy(s, LEDGER, ledger)
                else:
                    s.execute(insert(TASKS), rows)
                    s.execute(insert(LEDGER), ledger)
                self.on_commit(rows, s)
        for item, error in refused:  # only now: the batch might still have been retried
            item.outcome = error
        return accepted

    def _refusal(self, item: PendingCreate, taken, running: int, balance: int) -> Exception | None:
        """The error this create gets, in the order a lone create checks: external id,
        unfinished tasks, credits."""
        if item.external_id and (item.account_id, item.external_id) in taken:
            return duplicate_error(item.external_id)
        limit = self.max_concurrent
        if limit > 0 and item.slots > limit:
            return TooManyConcurrentTasks(
                f"n = {item.slots} needs {item.slots} concurrency slots (one per image); this "
                f"account has {limit} in all: ask for at most {limit} images"
            )
        if limit > 0 and item.slots > 1 and running + item.slots > limit:
            return TooManyConcurrentTasks(
                f"this account's unfinished tasks hold {running} of its {limit} concurrency "
                f"slots; this task needs {item.slots} (one per image, n = {item.slots})"
            )
        if limit > 0 and running >= limit:
            return TooManyConcurrentTasks(
                f"this account has {running} unfinished tasks; the limit is {limit}"
            )
        if balance < item.cost:
            return credits.insufficient(balance, item.cost)
        return None


def _copy(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: ``rows`` into ``table`` with one COPY (an INSERT per row costs the batch's
    writer more than the rest of its work). JSON columns are written as SQLAlchemy writes
    them (``None`` as JSON null). A failure fails the batch, which is then decided one create
    at a time with plain INSERTs, so a conflict still gets its own exact error."""
    columns = list(rows[0])
    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    cursor = session.connection().connection.cursor()
    try:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                values = [row[name] for name in columns]
                copy.write_row(
                    [json.dumps(v) if j else v for v, j in zip(values, as_json, strict=True)]
                )
    finally:
        cursor.close()


def _answer(items: list[PendingCreate]) -> None:
    """Give each create its outcome: the row, or its error. Futures of one event loop are set
    in one call on that loop (one wake-up for the batch, not one per create)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[PendingCreate]] = {}
    for item in items:
        if isinstance(item.future, asyncio.Future):
            by_loop.setdefault(item.future.get_loop(), []).append(item)
        elif item.outcome is None:
            item.future.set_result(item.row)
        else:
            item.future.set_exception(item.outcome)
    for loop, group in by_loop.items():
        if _running_loop() is loop:  # committed on the loop itself
            _answer_on_loop(group)
            continue
        try:
            loop.call_soon_threadsafe(_answer_on_loop, group)
        except RuntimeError:  # the loop closed (server shutting down): nobody is waiting
            pass


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _answer_on_loop(items: list[PendingCreate]) -> None:
    for item in items:
        if item.future.done():  # the request was cancelled (client went away)
            continue
        if item.outcome is None:
            item.future.set_result(item.row)
        else:
            item.future.set_exception(item.outcome)
