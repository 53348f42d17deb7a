"""The callbacks outbox: rows written with each status change, sent by a background sender."""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from ..config import Settings
from ..errors import OutboundError, RateLimited, URLRefused
from ..net import guard as netguard
from ..observability import metrics
from ..observability.failing import FailureState
from ..store.db import Sessions, affected, now_ms
from ..store.models import Account, Callback
from . import webhook_secrets, webhooks

log = logging.getLogger(__name__)
K = TypeVar("K")

# Fairness: a slow or dead receiver may only slow its own callbacks. Each sender has SENDERS
# posts in flight at most; one destination (scheme://host:port) holds at most PER_DESTINATION
# of them and one account at most PER_ACCOUNT, so the others always find free slots. A row
# whose destination or account is saturated is skipped (it stays due), never waited on.
SENDERS = 16
PER_DESTINATION = 2
PER_ACCOUNT = 4


def enqueue(
    session: Session,
    *,
    task_id: str,
    account_id: int,
    url: str,
    payload: dict,
    message_id: str | None = None,
) -> None:
    now = now_ms()
    session.add(
        Callback(
            message_id=message_id or f"msg_{uuid.uuid4().hex}",
            task_id=task_id,
            account_id=account_id,
            url=url,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
    )


def send_test(sessions: Sessions, account_id: int, url: str, body_for) -> dict:
    """Queue a test callback to ``url`` (checked by the caller) through the outbox, signed as
    the account's callbacks are; at most one per 6 s per account (else ``RateLimited``).
    ``body_for(task_id, now_ms)`` makes its body."""
    with sessions.begin() as s:
        webhook_secrets.lock_account(s, account_id)
        now = now_ms()
        last = s.execute(
            select(func.max(Callback.created_at)).where(
                Callback.account_id == account_id,
                Callback.message_id.startswith(webhook_secrets.TEST_PREFIX, autoescape=True),
            )
        ).scalar()
        if last is not None and now - last < webhook_secrets.TEST_INTERVAL_MS:
            wait = (webhook_secrets.TEST_INTERVAL_MS - (now - last) + 999) // 1000
            raise RateLimited(f"one test callback per 6 seconds; try again in {wait} s")
        task_id = f"{now:013d}{uuid.uuid4().int % 10**5:05d}"  # shaped like a task id
        body = body_for(task_id, now)
        enqueue(
            s,
            task_id=task_id,
            account_id=account_id,
            url=url,
            payload=body,
            message_id=webhook_secrets.TEST_PREFIX + uuid.uuid4().hex,
        )
        return body


def _add(counter: Counter[K], key: K, step: int) -> None:
    """Move ``key``'s count by ``step``; a count that reaches 0 leaves the counter."""
    counter[key] += step
    if counter[key] <= 0:
        del counter[key]


class CallbackSender:
    """Delivers due outbox rows at least once, in order per task, with capped backoff.

    Several senders (threads or hosts) may run at once: a row is taken by a conditional update
    of ``locked_until``, so each attempt is made by one of them.
    """

    def __init__(self, settings: Settings, sessions: Sessions) -> None:
        self.settings = settings
        self.sessions = sessions
        self.owner = uuid.uuid4().hex
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.allow = settings.url_allowlist
        self.resolve: netguard.Resolver = netguard.system_resolve
        # up to SENDERS posts are in flight, and a new one starts as soon as any finishes
        self._pool = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="callback")
        self._in_flight = 0
        self._by_destination: Counter[str] = Counter()
        self._by_account: Counter[int] = Counter()
        self._count_lock = threading.Lock()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="callbacks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)  # rows in flight are retried

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        state = FailureState("callback sender", log, base=0.5)
        while not self._stop.is_set():
            taken = 0
            try:
                for row in self._take():
                    self._pool.submit(self._send, row)
                    taken += 1
                state.succeeded()
            except Exception as exc:  # keep delivering after a database outage, backing off
                state.failed(exc)
            if not taken:
                if state.failing:  # an outage: wake-ups do not shorten the back-off
                    self._stop.wait(state.wait())
                else:
                    self._wake.wait(state.wait())
                self._wake.clear()

    def _send(self, row: Callback) -> None:
        try:
            self._deliver(row)
        except Exception:  # the row's lock runs out and it is tried again
            log.exception("callback %s: delivery bookkeeping failed", row.message_id)
        finally:
            self._count(row, -1)
            self._wake.set()

    def _count(self, row: Callback, step: int) -> None:
        """Count a row in (+1) or out (-1) of the in-flight totals."""
        with self._count_lock:
            self._in_flight += step
            _add(self._by_destination, netguard.destination(row.url), step)
            _add(self._by_account, row.account_id, step)

    def _take(self) -> list[Callback]:
        """Claim due rows for the free slots, leaving out saturated destinations and accounts;
        the claimed rows are counted in flight."""
        with self._count_lock:
            free = SENDERS - self._in_flight
            by_destination = Counter(self._by_destination)
            by_account = Counter(self._by_account)
        if free <= 0:
            return []
        full_destinations = [d for d, n in by_destination.items() if n >= PER_DESTINATION]
        full_accounts = [a for a, n in by_account.items() if n >= PER_ACCOUNT]
        now = now_ms()
        earlier = aliased(Callback)
        older_pending = exists().where(
            and_(
                earlier.task_id == Callback.task_id,
                earlier.state == "pending",
                earlier.id < Callback.id,
            )
        )
        query = select(Callback).where(
            Callback.state == "pending",
            Callback.next_attempt_at <= now,
            Callback.locked_until < now,
            ~older_pending,
        )
        if full_accounts:
            query = query.where(Callback.account_id.notin_(full_accounts))
        for full in full_destinations:  # stored URLs are normalised: scheme://netloc/...
            query = query.where(~Callback.url.startswith(full + "/", autoescape=True))
        # a post may wait on the resolver, two connects, the write and the read
        lock_until = now + int(5 * self.settings.callback_timeout_seconds * 1000) + 5000
        taken: list[Callback] = []
        with self.sessions.begin() as s:
            rows = s.execute(query.order_by(Callback.id).limit(free * 4)).scalars().all()
            for row in rows:
                if len(taken) == free:
                    break
                where = netguard.destination(row.url)
                if by_destination[where] >= PER_DESTINATION:
                    continue
                if by_account[row.account_id] >= PER_ACCOUNT:
                    continue
                claimed = s.execute(
                    update(Callback)
                    .where(Callback.id == row.id, Callback.locked_until == row.locked_until)
                    .values(locked_until=lock_until)
                )
                if affected(claimed) == 1:
                    taken.append(row)
                    by_destination[where] += 1
                    by_account[row.account_id] += 1
        for row in taken:
            self._count(row, +1)
        return taken

    def _deliver(self, row: Callback) -> None:
        with self.sessions() as s:  # read at each attempt: a rotation applies at once
            account = s.execute(select(Account).where(Account.id == row.account_id)).scalar_one()
            secret = webhook_secrets.signers(account)
        body = json.dumps(row.payload, separators=(",", ":")).encode()
        try:  # checked and pinned by the guard: never a connection into our own network
            status = netguard.post(
                row.url,
                content=body,
                headers=webhooks.headers(secret, row.message_id, body),
                timeout=self.settings.callback_timeout_seconds,
                allow=self.allow,
                resolve=self.resolve,
            )
            if 200 <= status < 300:
                self._record(row, state="delivered", attempts=row.attempts + 1, last_error="")
                metrics.CALLBACK_DELIVERIES.labels("delivered").inc()
                return
            error = f"HTTP {status}"
        except URLRefused as exc:  # a failed attempt like any other; no connection was made
            error = f"refused: {exc.message}"
        except OutboundError as exc:
            error = exc.message
        except Exception:  # any failure to deliver is retried, never fatal
            log.exception("callback %s: unexpected failure while sending", row.message_id)
            error = "internal error while sending (see the server log)"
        attempts = row.attempts + 1
        if attempts >= self.settings.callback_max_attempts:
            log.warning(
                "callback %s for task %s dead after %d attempts: %s",
                row.message_id,
                row.task_id,
                attempts,
                error,
            )
            self._record(row, state="dead", attempts=attempts, last_error=error[:500])
            metrics.CALLBACK_DELIVERIES.labels("dead").inc()
            return
        delay = min(
            self.settings.callback_backoff_seconds * 2 ** (attempts - 1),
            self.settings.callback_backoff_max_seconds,
        ) * random.uniform(0.8, 1.2)
        self._record(
            row,
            attempts=attempts,
            last_error=error[:500],
            next_attempt_at=now_ms() + int(delay * 1000),
        )
        metrics.CALLBACK_DELIVERIES.labels("retry").inc()

    def _record(self, row: Callback, **values) -> None:
        """Write the outcome of an attempt and release the row."""
        with self.sessions.begin() as s:
            s.execute(
                update(Callback).where(Callback.id == row.id).values(locked_until=0, **values)
            )
