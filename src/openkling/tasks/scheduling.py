"""The fair claim: which waiting task a free worker runs next, decided in the task store.

The rule, in order:

1. Among accounts with a waiting task the worker can run, the one with the fewest running
   tasks per unit of ``priority`` goes first; ties go to the account a worker served least
   recently (round robin), then to the older waiting task.
2. Within that account, its oldest waiting task for the worker's models.
3. Affinity: a worker whose last task was of model M (its pipeline is loaded) takes the task
   rule 1 and 2 would give it among M's waiting tasks instead, unless the fair pick has
   already been passed over ``affinity_max_skips`` times; each diversion counts one.

On SQLite every claim runs in one write transaction at a time, so the order is exact. On
PostgreSQL concurrent claimers never wait for one another: each locks the account row it
claims for with ``FOR UPDATE SKIP LOCKED`` (an account being claimed for right now is
skipped, its count is about to rise) and re-reads that account's running count under the
lock, so a claim that committed meanwhile is never missed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..store.models import Account, Task

SUBMITTED, PROCESSING = "submitted", "processing"


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

    def __init__(self, *, max_skips: int) -> None:
        self.max_skips = max_skips

    # -- reads ---------------------------------------------------------------------------
    @staticmethod
    def standings(s: Session, models: list[str], now: int) -> list[Waiting]:
        """Every account with a waiting task of ``models``: two grouped, indexed reads."""
        waiting = s.execute(
            select(Task.account_id, Task.model_name, func.min(Task.created_at))
            .where(Task.status == SUBMITTED, Task.model_name.in_(models))
            .group_by(Task.account_id, Task.model_name)
        ).all()
        if not waiting:
            return []
        ids = sorted({row[0] for row in waiting})
        running = dict(
            s.execute(
                select(Task.account_id, func.count())
                .where(
                    Task.status == PROCESSING,
                    Task.lease_expires_at >= now,
                    Task.account_id.in_(ids),
                )
                .group_by(Task.account_id)
            ).all()
        )
        accounts = {
            row[0]: row
            for row in s.execute(
                select(Account.id, Account.priority, Account.last_claim_at).where(
                    Account.id.in_(ids)
                )
            ).all()
        }
        out: dict[int, Waiting] = {}
        for account_id, model, oldest in waiting:
            _, priority, last = accounts[account_id]
            entry = out.get(account_id)
            if entry is None:
                entry = out[account_id] = Waiting(
                    account_id,
                    running.get(account_id, 0),
                    max(float(priority or 1.0), 1e-6),
                    int(last or 0),
                    {},
                )
            entry.oldest[model] = int(oldest)
        return list(out.values())

    @staticmethod
    def _running(s: Session, account_id: int, now: int) -> int:
        return s.execute(
            select(func.count()).where(
                Task.account_id == account_id,
                Task.status == PROCESSING,
                Task.lease_expires_at >= now,
            )
        ).scalar_one()

    @staticmethod
    def _lock_account(s: Session, account_id: int) -> bool:
        """Hold the account's row for this claim; False if another claimer holds it."""
        got = s.execute(
            select(Account.id).where(Account.id == account_id).with_for_update(skip_locked=True)
        ).first()
        return got is not None

    @staticmethod
    def _head(s: Session, account_id: int, models: list[str]) -> Task | None:
        """The account's oldest waiting task of ``models`` (locked where the store can)."""
        return s.scalars(
            select(Task)
            .where(
                Task.status == SUBMITTED,
                Task.account_id == account_id,
                Task.model_name.in_(models),
            )
            .order_by(Task.created_at, Task.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()

    # -- the decision ----------------------------------------------------------------------
    def _pick(
        self, s: Session, standings: list[Waiting], models: list[str], now: int, held: set[int]
    ) -> Task | None:
        """The fair head among ``standings`` for ``models``: lock its account, check that its
        running count is still what the ranking read, and take its oldest task."""
        ranked = sorted(
            (w for w in standings if any(m in w.oldest for m in models)),
            key=lambda w: w.key(models),
        )
        skipped = False
        for entry in ranked:
            if entry.account_id not in held:
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
        """The task this worker runs next, or None if there is none. Raises ``Busy`` when
        every candidate account is being claimed for by someone else at this instant (the
        caller tries again in a moment, holding nothing), ``Rerank`` when a concurrent claim
        changed a count under us. Returned rows are locked (PostgreSQL)."""
        standings = self.standings(s, models, now)
        if not standings:
            return None
        held: set[int] = set()
        fair = self._pick(s, standings, models, now, held)
        if fair is None:
            return None
        if (
            loaded is None
            or fair.model_name == loaded
            or loaded not in models
            or fair.passed_over >= self.max_skips
        ):
            return Choice(fair)
        try:
            mine = self._pick(s, standings, [loaded], now, held)
        except Busy:
            mine = None  # the loaded model's accounts are busy: the fair pick it is
        if mine is None:
            return Choice(fair)
        return Choice(mine, passed_over=fair)

    @staticmethod
    def mark_claimed(s: Session, choice: Choice) -> None:
        """After the claim: the account was served now; a passed-over pick counts one more."""
        greatest = func.max if s.get_bind().dialect.name == "sqlite" else func.greatest
        s.execute(
            update(Account)
            .where(Account.id == choice.task.account_id)
            .values(last_claim_at=greatest(Account.last_claim_at + 1, now_us()))
        )
        if choice.passed_over is not None:
            s.execute(
                update(Task)
                .where(Task.id == choice.passed_over.id)
                .values(passed_over=Task.passed_over + 1)
            )


class Busy(Exception):
    """Every account the claim could serve is locked by a concurrent claimer."""


class Rerank(Exception):
    """A concurrent claim changed a running count after the ranking was read."""
