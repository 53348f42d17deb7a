"""The callbacks outbox: rows written with each status change, sent by a background sender."""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from .. import metrics
from ..config import Settings
from ..store.db import Sessions, now_ms
from ..store.models import Account, Callback
from . import webhooks

log = logging.getLogger(__name__)

SENDERS = 8  # callbacks in flight at once per sender


def enqueue(session: Session, *, task_id: str, account_id: int, url: str, payload: dict) -> None:
    now = now_ms()
    session.add(
        Callback(
            message_id=f"msg_{uuid.uuid4().hex}",
            task_id=task_id,
            account_id=account_id,
            url=url,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
    )


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
        self._client = httpx.Client(
            timeout=settings.callback_timeout_seconds,
            limits=httpx.Limits(max_connections=SENDERS * 2),
        )
        # one slow receiver must not hold up everyone else's callbacks: up to SENDERS posts
        # are in flight, and a new one starts as soon as any finishes
        self._pool = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="callback")
        self._in_flight = 0
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
        self._client.close()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            taken = 0
            try:
                with self._count_lock:
                    free = SENDERS - self._in_flight
                if free > 0:
                    for row in self._take(limit=free):
                        with self._count_lock:
                            self._in_flight += 1
                        self._pool.submit(self._send, row)
                        taken += 1
            except Exception:  # keep delivering after a database hiccup
                log.exception("callback sender pass failed")
            if not taken:
                self._wake.wait(0.5)
                self._wake.clear()

    def _send(self, row: Callback) -> None:
        try:
            self._deliver(row)
        except Exception:  # the row's lock runs out and it is tried again
            log.exception("callback %s: delivery bookkeeping failed", row.message_id)
        finally:
            with self._count_lock:
                self._in_flight -= 1
            self._wake.set()

    def _take(self, limit: int = 20) -> list[Callback]:
        now = now_ms()
        earlier = aliased(Callback)
        older_pending = exists().where(
            and_(
                earlier.task_id == Callback.task_id,
                earlier.state == "pending",
                earlier.id < Callback.id,
            )
        )
        with self.sessions.begin() as s:
            rows = (
                s.execute(
                    select(Callback)
                    .where(
                        Callback.state == "pending",
                        Callback.next_attempt_at <= now,
                        Callback.locked_until < now,
                        ~older_pending,
                    )
                    .order_by(Callback.id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            taken = []
            lock_until = now + int(self.settings.callback_timeout_seconds * 1000) + 5000
            for row in rows:
                claimed = s.execute(
                    update(Callback)
                    .where(Callback.id == row.id, Callback.locked_until == row.locked_until)
                    .values(locked_until=lock_until)
                )
                if claimed.rowcount == 1:
                    taken.append(row)
            return taken

    def _deliver(self, row: Callback) -> None:
        with self.sessions() as s:
            secret = s.execute(
                select(Account.webhook_secret).where(Account.id == row.account_id)
            ).scalar_one()
        body = json.dumps(row.payload, separators=(",", ":")).encode()
        try:
            resp = self._client.post(
                row.url, content=body, headers=webhooks.headers(secret, row.message_id, body)
            )
            if 200 <= resp.status_code < 300:
                self._record(row, state="delivered", attempts=row.attempts + 1, last_error="")
                metrics.CALLBACK_DELIVERIES.labels("delivered").inc()
                return
            error = f"HTTP {resp.status_code}"
        except Exception as exc:  # any failure to deliver is retried, never fatal
            error = f"{type(exc).__name__}: {exc}"
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
