"""The fair claim: which waiting task a free worker runs next, decided in the task store.

The rule, in order:

1. Among accounts with a waiting task the worker can run, the one with the fewest running
   tasks per unit of ``priority`` goes first; ties go to the account a worker served least
   recently (round robin), then to the older waiting task.
2. Within that account, its oldest waiting task for the worker's models.
3. Affinity: a worker whose last task was of model M (its pipeline is loaded) takes the task
   rule 1 and 2 would give it among M's waiting tasks instead. Rebalance: unless M runs on
   no other worker, it moves to the most under-served other model (rule 4) when that model
   has at least ``rebalance_margin`` (2) more waiting tasks per worker running it than M
   has per other worker running M.
4. Balance: a worker that is cold (nothing loaded) or whose model has nothing waiting loads
   a pipeline whatever it takes; it takes the most under-served model, the one with the most
   waiting tasks per worker running it (a model that no worker runs first; ties go to the
   fair pick's model).
5. Leave: a worker with a loaded model that has nothing waiting takes nothing when the model
   rule 4 gives it runs on at least as many workers as it has waiting tasks, and those
   workers are each expected to end their run (the mean of the model's last 20 runs) sooner
   than a pipeline load takes (``pipeline_load_seconds``; 0, the default, turns this rule
   off): each of those tasks then starts sooner, with no load, and this worker keeps its
   pipeline for its own model's next task. It looks again at its next wake-up.
6. Bound: when rules 3 and 4 choose a model other than the fair pick's, the worker takes
   that model's waiting task that was passed over most (it repays a pick passed over
   before), else the task rule 1 and 2 give among that model's tasks; the fair pick counts
   one pass-over. Once it has been passed over ``affinity_max_skips`` times, the next free
   worker that can run it takes it, whatever it has loaded. With a bound of 0 every claim
   takes the fair pick (rules 3 to 5 are off).

On SQLite every claim runs in one write transaction at a time, so the order is exact. On
PostgreSQL concurrent claimers never wait for one another: each locks the account row it
claims for with ``FOR UPDATE SKIP LOCKED`` (an account being claimed for right now is
skipped, its count is about to rise) and re-reads that account's running count under the
lock, so a claim that committed meanwhile is never missed. The running counts per model that
the balance reads are exact on SQLite and a snapshot on PostgreSQL (two cold workers claiming
at the same instant may both choose the same model); fairness does not depend on them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from ..domain.status import TaskStatus
from ..store.models import Account, Task
from .queue import RECENT_RUNS, mean_run_sql

SUBMITTED, PROCESSING = TaskStatus.SUBMITTED, TaskStatus.PROCESSING


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class Waiting:
    """One account's waiting tasks for the worker's models, and its standing."""

    account_id: int
    running: int
    priority: float
    last_claim_at: int
    oldest: dict[str, int]  # model -> created_at of its oldest waiting task
    count: dict[str, int]  # model -> its waiting tasks
    owed: dict[str, int]  # model -> the most times one of its waiting tasks was passed over

    def key(self, models: list[str] | None = None) -> tuple:
        ages = [t for m, t in self.oldest.items() if models is None or m in models]
        return (self.running / self.priority, self.last_claim_at, min(ages), self.account_id)


@dataclass(frozen=True)
class Choice:
    """A claim decision: the task to run, and the fair pick it passed over (affinity)."""

    task: Task
    passed_over: Task | None = None


class Scheduler:
    """Chooses the next task inside the caller's write transaction (see the module doc)."""

    # rule 3: a worker leaves its loaded model when another model has at least this many more
    # waiting tasks per worker running it than its own has per other worker running it (the
    # imbalance, in runs, worth a pipeline load)
    rebalance_margin = 2.0

    def __init__(self, *, max_skips: int, fifo: bool = False, load_seconds: float = 0.0) -> None:
        self.max_skips = max_skips
        self.load_ms = load_seconds * 1000  # about how long a pipeline load takes (rule 5)
        self.fifo = fifo  # plain first-in first-out, for comparison (bench/bench_fleet.py)

    # -- reads (statements built once, with parameters: a claim is on every worker's path) --
    _WAITING = (
        select(
            Task.account_id.label("account_id"),
            Task.model_name.label("model_name"),
            func.min(Task.created_at).label("oldest"),
            func.count().label("waiting"),
            func.max(Task.passed_over).label("owed"),
        )
        .where(Task.status == SUBMITTED, Task.model_name.in_(bindparam("models", expanding=True)))
        .group_by(Task.account_id, Task.model_name)
        .subquery()
    )
    _STANDINGS = select(
        _WAITING.c.account_id,
        _WAITING.c.model_name,
        _WAITING.c.oldest,
        _WAITING.c.waiting,
        _WAITING.c.owed,
        Account.priority,
        Account.last_claim_at,
        select(func.count())
        .where(
            Task.account_id == _WAITING.c.account_id,
            Task.status == PROCESSING,
            Task.lease_expires_at >= bindparam("now"),
        )
        .scalar_subquery(),
    ).join(Account, Account.id == _WAITING.c.account_id)
    _RUNNING = select(func.count()).where(
        Task.account_id == bindparam("account_id"),
        Task.status == PROCESSING,
        Task.lease_expires_at >= bindparam("now"),
    )
    _RUNNING_BY_MODEL = (
        select(Task.model_name, func.count())
        .where(
            Task.status == PROCESSING,
            Task.lease_expires_at >= bindparam("now"),
            Task.model_name.in_(bindparam("models", expanding=True)),
        )
        .group_by(Task.model_name)
    )
    _LOCK = (
        select(Account.id)
        .where(Account.id == bindparam("account_id"))
        .with_for_update(skip_locked=True)
    )
    _HEAD = (
        select(Task)
        .where(
            Task.status == SUBMITTED,
            Task.account_id == bindparam("account_id"),
            Task.model_name.in_(bindparam("models", expanding=True)),
        )
        .order_by(Task.created_at, Task.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    _OLDEST = (
        select(Task)
        .where(Task.status == SUBMITTED, Task.model_name.in_(bindparam("models", expanding=True)))
        .order_by(Task.created_at, Task.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )

    @classmethod
    def standings(cls, s: Session, models: list[str], now: int) -> list[Waiting]:
        """Every account with a waiting task of ``models``, with its running count, weight and
        last claim: one statement (waiting tasks through ix_tasks_queue, each account's
        running count through ix_tasks_account_status)."""
        rows = s.execute(cls._STANDINGS, {"models": models, "now": now}).all()
        out: dict[int, Waiting] = {}
        for account_id, model, oldest, waiting, owed, priority, last, count in rows:
            entry = out.get(account_id)
            if entry is None:
                weight = max(float(priority or 1.0), 1e-6)
                entry = out[account_id] = Waiting(
                    account_id, int(count), weight, int(last or 0), {}, {}, {}
                )
            entry.oldest[model] = int(oldest)
            entry.count[model] = int(waiting)
            entry.owed[model] = int(owed or 0)
        return list(out.values())

    @staticmethod
    def waiting_by_model(standings: list[Waiting]) -> dict[str, int]:
        """How many tasks wait, per model."""
        waiting: dict[str, int] = {}
        for entry in standings:
            for model, n in entry.count.items():
                waiting[model] = waiting.get(model, 0) + n
        return waiting

    @classmethod
    def running_by_model(cls, s: Session, models: list[str], now: int) -> dict[str, int]:
        """How many tasks run now, per model: one statement through ix_tasks_status_lease,
        reading as many rows as tasks run."""
        rows = s.execute(cls._RUNNING_BY_MODEL, {"models": models, "now": now}).all()
        return {str(model): int(n) for model, n in rows}

    _RECENT_RUN_MS = text("SELECT " + mean_run_sql(":model", ":runs"))
    _STARTED = (
        select(Task.started_at)
        .where(
            Task.status == PROCESSING,
            Task.lease_expires_at >= bindparam("now"),
            Task.model_name == bindparam("model"),
        )
        .order_by(Task.started_at)
        .limit(bindparam("n"))
    )

    def _frees_before_a_load(self, s: Session, model: str, n: int, now: int) -> bool:
        """Rule 5's test: the ``n`` workers running ``model`` that started first are each
        expected to end their run (the mean of the model's last 20 runs) sooner than a pipeline
        load would take here. False when loads are said to cost nothing or no run has ended."""
        if self.load_ms <= 0:
            return False
        mean = s.execute(self._RECENT_RUN_MS, {"model": model, "runs": RECENT_RUNS}).scalar()
        if mean is None:
            return False
        started = s.scalars(self._STARTED, {"model": model, "now": now, "n": n}).all()
        if len(started) < n:
            return False
        return all((at or now) + float(mean) - now <= self.load_ms for at in started)

    @staticmethod
    def per_worker(waiting: int, running: int) -> float:
        """Waiting tasks per worker running their model (infinite when none runs it)."""
        return waiting / running if running else float("inf")

    @classmethod
    def most_underserved(
        cls, waiting: dict[str, int], running: dict[str, int], fair_model: str
    ) -> str:
        """The model with the most waiting tasks per running one (one with waiting tasks and
        none running first); ties go to ``fair_model``, then to the name."""

        def need(model: str) -> tuple[float, bool]:
            return (cls.per_worker(waiting[model], running.get(model, 0)), model == fair_model)

        return max(sorted(waiting), key=need)

    @classmethod
    def _running(cls, s: Session, account_id: int, now: int) -> int:
        return s.execute(cls._RUNNING, {"account_id": account_id, "now": now}).scalar_one()

    @classmethod
    def _lock_account(cls, s: Session, account_id: int) -> bool:
        """Hold the account's row for this claim; False if another claimer holds it."""
        return s.execute(cls._LOCK, {"account_id": account_id}).first() is not None

    @classmethod
    def _head(cls, s: Session, account_id: int, models: list[str]) -> Task | None:
        """The account's oldest waiting task of ``models`` (locked where the store can)."""
        return s.scalars(cls._HEAD, {"account_id": account_id, "models": models}).first()

    # -- the decision ----------------------------------------------------------------------
    def _pick(
        self,
        s: Session,
        standings: list[Waiting],
        models: list[str],
        now: int,
        held: set[int],
        owed_first: bool = False,
    ) -> Task | None:
        """The fair head among ``standings`` for ``models``: lock its account, check that its
        running count is still what the ranking read, and take its oldest task. With
        ``owed_first``, accounts whose oldest task of ``models`` was passed over go first, the
        most passed over first (a diversion repays a pick it or another worker passed over)."""

        def rank(w: Waiting) -> tuple:
            owed = max(w.owed.get(m, 0) for m in models) if owed_first else 0
            return (-owed, *w.key(models))

        ranked = sorted((w for w in standings if any(m in w.oldest for m in models)), key=rank)
        skipped = False
        exact = s.get_bind().dialect.name == "sqlite"  # one claim at a time: nothing to lock
        for entry in ranked:
            if not exact and entry.account_id not in held:
                if not self._lock_account(s, entry.account_id):
                    skipped = True  # another claimer is choosing for it right now
                    continue
                held.add(entry.account_id)
                if self._running(s, entry.account_id, now) != entry.running:
                    raise Rerank()  # a claim committed since the ranking was read
            task = self._head(s, entry.account_id, models)
            if task is not None:
                return task
        if skipped:
            raise Busy()
        return None

    def choose(self, s: Session, models: list[str], loaded: str | None, now: int) -> Choice | None:
        """The task this worker runs next, or None if there is none, or if it would load
        another pipeline for tasks that workers already running their model each take within
        one run (see the module doc, rule 5). Raises ``Busy`` when
        every candidate account is being claimed for by someone else at this instant (the
        caller tries again in a moment, holding nothing), ``Rerank`` when a concurrent claim
        changed a count under us. Returned rows are locked (PostgreSQL)."""
        if self.fifo:
            oldest = s.scalars(self._OLDEST, {"models": models}).first()
            return Choice(oldest) if oldest is not None else None
        standings = self.standings(s, models, now)
        if not standings:
            return None
        held: set[int] = set()
        fair = self._pick(s, standings, models, now, held)
        if fair is None:
            return None
        if fair.model_name == loaded or not self.max_skips:
            return Choice(fair)
        waiting = self.waiting_by_model(standings)
        running = self.running_by_model(s, models, now)
        if loaded is not None and waiting.get(loaded):
            target = loaded  # affinity: the loaded model has work
            if running.get(loaded):  # other workers run it: this one may move (rebalance)
                others = {m: n for m, n in waiting.items() if m != loaded}
                under = self.most_underserved(others, running, fair.model_name)
                mine = waiting[loaded] / running[loaded]
                if self.per_worker(others[under], running.get(under, 0)) - mine >= (
                    self.rebalance_margin
                ):
                    target = under
        else:  # this worker loads a pipeline, whatever it takes
            target = self.most_underserved(waiting, running, fair.model_name)
            if (
                loaded is not None
                and waiting[target] <= running.get(target, 0)
                and self._frees_before_a_load(s, target, waiting[target], now)
            ):
                return None  # leave: the workers running it take each of its tasks sooner
        if target == fair.model_name or fair.passed_over >= self.max_skips:
            return Choice(fair)
        other = self._divert(s, standings, target, now, held)
        return Choice(fair) if other is None else Choice(other, passed_over=fair)

    def _divert(
        self, s: Session, standings: list[Waiting], model: str, now: int, held: set[int]
    ) -> Task | None:
        """``model``'s most passed-over waiting task, else its fair pick; or None (none, or
        all its accounts are mid-claim elsewhere: the fair pick it is)."""
        try:
            return self._pick(s, standings, [model], now, held, owed_first=True)
        except Busy:
            return None

    _SERVED = (
        update(Account)
        .where(Account.id == bindparam("account_id"))
        .values(last_claim_at=bindparam("at"))
    )
    _PASSED_OVER = (
        update(Task).where(Task.id == bindparam("task_id")).values(passed_over=Task.passed_over + 1)
    )

    @classmethod
    def mark_claimed(cls, s: Session, choice: Choice) -> None:
        """After the claim: the account was served now; a passed-over pick counts one more."""
        s.execute(cls._SERVED, {"account_id": choice.task.account_id, "at": now_us()})
        if choice.passed_over is not None:
            s.execute(cls._PASSED_OVER, {"task_id": choice.passed_over.id})


class Busy(Exception):
    """Every account the claim could serve is locked by a concurrent claimer."""


class Rerank(Exception):
    """A concurrent claim changed a running count after the ranking was read."""
