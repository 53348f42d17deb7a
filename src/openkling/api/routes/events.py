"""Server-sent events: the task object on each change, per task or for a whole account.

Browsers' EventSource cannot send an Authorization header, so clients (the studio, the SDK)
read these streams with an ordinary request. Each stream re-reads the store (the source of
truth) every ``events_poll_seconds``; an account holds at most ``events_streams_per_account``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ...contract.kling.present import task_object
from ...domain.queue import QueueInfo
from ...domain.status import TaskStatus
from ...domain.task import StoredTask
from ...domain.vocabulary import FAMILIES
from ...errors import AuthError, RateLimited
from ...store.db import now_ms
from ...tasks.watch import TaskWatch
from ..auth import Authenticator
from ..deps import AccountDep, BaseUrlDep, RuntimeDep
from ..openapi import errors

log = logging.getLogger(__name__)

router = APIRouter(tags=["events"])

DOC_STREAM = {
    "description": "server-sent events: `event:` the task's door, `data:` the task object",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}
ENVELOPE = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}


def json_errors(*statuses: int) -> dict:
    """The refusals a stream answers before it starts: JSON envelopes, not events."""
    return {
        status: {"description": doc["description"], "content": ENVELOPE}
        for status, doc in errors(*statuses).items()
    }


RECENT_MS = 5000  # an account stream re-reads tasks changed this long before its last read
RECHECK_SECONDS = 2.0  # how often an open stream re-checks its key (revocation ends it)


class StreamSlots:
    """Open streams per account, so no account can hold the server's connections."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[int, int] = {}
        self._lock = threading.Lock()

    def acquire(self, account_id: int) -> None:
        with self._lock:
            held = self._open.get(account_id, 0)
            if held >= self.limit:
                raise RateLimited(
                    f"this account has {held} open event streams; the limit is {self.limit}. "
                    "Close one, or poll the task instead"
                )
            self._open[account_id] = held + 1

    def release(self, account_id: int) -> None:
        with self._lock:
            left = self._open.get(account_id, 1) - 1
            if left > 0:
                self._open[account_id] = left
            else:
                self._open.pop(account_id, None)


def _slots(request: Request, limit: int) -> StreamSlots:
    slots = getattr(request.app.state, "event_slots", None)
    if slots is None:
        slots = request.app.state.event_slots = StreamSlots(limit)
    return slots


def sse(event: str, data: dict, event_id: str) -> bytes:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\nid: {event_id}\ndata: {body}\n\n".encode()


def _key(task: StoredTask, queue: QueueInfo | None = None) -> tuple:
    """What a client sees change: the state, the progress, and the place in line."""
    return (
        task.status,
        task.progress,
        task.updated_at,
        queue.position if queue else None,
        queue.eta_seconds if queue else None,
    )


QUEUE_REFRESH_SECONDS = 2.0  # an account stream re-reads its waiting tasks' places this often


class EventStream(StreamingResponse):
    """A stream that gives its account's slot back however it ends: done, dropped by the
    client, or never started."""

    media_type = "text/event-stream"

    def __init__(self, body, release: Callable[[], None]) -> None:
        super().__init__(body, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._release = release

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def _stream_response(
    request: Request, rt, account_id: int, reads: Callable[[], AsyncIterator[bytes]]
) -> StreamingResponse:
    """Hold a slot for the stream's life; end it on shutdown, after the time limit, or when
    the store cannot be read (the client falls back to polling)."""
    slots = _slots(request, rt.settings.events_streams_per_account)
    slots.acquire(account_id)

    async def body() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        try:
            async for chunk in reads():
                yield chunk
        except Exception:  # a store hiccup ends the stream; never send exception text
            log.exception("event stream ended by an error")

    return EventStream(body(), lambda: slots.release(account_id))


async def _still_signed_in(request: Request, rt) -> bool:
    """The stream's credentials still hold: a revoked key or an expired token ends it."""
    auth: Authenticator = request.app.state.auth
    try:
        await run_in_threadpool(auth.authenticate, request.headers.get("authorization"))
    except AuthError:
        return False
    return True


async def _ticks(request: Request, rt) -> AsyncIterator[bool]:
    """Yields before each read: True when a keep-alive comment is due. Stops at shutdown,
    after ``events_max_seconds``, and when the stream's key stops being valid."""
    settings = rt.settings
    started = last_sent = checked = time.monotonic()
    while not getattr(request.app.state, "draining", False):
        now = time.monotonic()
        if now - started > settings.events_max_seconds:
            return
        if now - checked >= RECHECK_SECONDS:
            checked = now
            if not await _still_signed_in(request, rt):
                return
        due = now - last_sent >= settings.events_keepalive_seconds
        if due:
            last_sent = now
        yield due
        await asyncio.sleep(settings.events_poll_seconds)


def _task_events(family: str):
    async def task_events(
        task_id: str, request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep
    ):
        first = await run_in_threadpool(rt.service.get, account, task_id=task_id, family=family)

        def present(row: StoredTask, queue: QueueInfo | None) -> dict:
            return task_object(
                row,
                rt.storage,
                base_url=base_url,
                expires_in=rt.settings.url_expiry_seconds,
                queue=queue,
            )

        def read_task():
            row = rt.service.get(account, task_id=first.id, family=family)
            return row, rt.service.queue.of(row)

        async def reads() -> AsyncIterator[bytes]:
            last = None
            async for keepalive in _ticks(request, rt):
                row, queue = await run_in_threadpool(read_task)
                if _key(row, queue) != last:
                    last = _key(row, queue)
                    yield sse(family, present(row, queue), f"{row.updated_at}-{row.progress}")
                    if row.finished:
                        return
                elif keepalive:
                    yield b": keep-alive\n\n"

        return _stream_response(request, rt, account.id, reads)

    return task_events


for _family in FAMILIES:  # a task is found only at the door it came through
    router.add_api_route(
        f"/v1/videos/{_family}/{{task_id}}/events",
        _task_events(_family),
        methods=["GET"],
        tags=[_family],
        summary="Live task: its object on each change, ending at succeed or failed (openkling)",
        response_class=EventStream,
        status_code=200,
        responses={200: DOC_STREAM, **json_errors(404, 429)},
    )


@router.get(
    "/v1/events",
    summary="Live account: each task's object whenever one changes (openkling)",
    response_class=EventStream,
    status_code=200,
    responses={200: DOC_STREAM, **json_errors(429)},
)
async def account_events(
    request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep
):
    watch = TaskWatch(rt.sessions)

    def present(row: StoredTask, queue: QueueInfo | None) -> dict:
        return task_object(
            row,
            rt.storage,
            base_url=base_url,
            expires_in=rt.settings.url_expiry_seconds,
            queue=queue,
        )

    queues: dict[str, QueueInfo] = {}
    queues_read = [0.0]

    def read_changes(watching: list[str], since_ms: int):
        rows = watch.account_changes(account.id, watching=watching, since_ms=since_ms)
        now = time.monotonic()
        if now - queues_read[0] >= QUEUE_REFRESH_SECONDS:  # places move slowly: not every poll
            queues_read[0] = now
            queues.clear()
            queues.update(rt.service.queue.of_many(rows))
        return rows

    async def reads() -> AsyncIterator[bytes]:
        seen: dict[str, tuple] = {}
        since = now_ms()  # the first read sends every unfinished task: the queue as it is
        async for keepalive in _ticks(request, rt):
            read_at = now_ms()
            watching = [i for i, k in seen.items() if not k[0].is_terminal()]
            rows = await run_in_threadpool(read_changes, watching, since - RECENT_MS)
            since = read_at
            sent = False
            for row in rows:
                queue = queues.get(row.id) if row.status is TaskStatus.SUBMITTED else None
                if seen.get(row.id) != _key(row, queue):
                    seen[row.id] = _key(row, queue)
                    yield sse(row.family, present(row, queue), f"{row.updated_at}-{row.progress}")
                    sent = True
            horizon = read_at - 2 * RECENT_MS  # forget finished tasks no read can return
            for task_id, key in list(seen.items()):
                if key[2] < horizon and key[0].is_terminal():
                    del seen[task_id]
            if keepalive and not sent:
                yield b": keep-alive\n\n"

    return _stream_response(request, rt, account.id, reads)
