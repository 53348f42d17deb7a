"""Retention: delete the files of results past the retention period, mark their tasks expired."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select, update

from ..config import Settings
from ..domain.request import GenerationRequest
from ..domain.result import TaskResult
from ..domain.status import TERMINAL, TaskStatus
from ..media.spritesheet import sprite_key
from ..observability.failing import FailureState
from ..storage.base import Storage
from ..store.db import Sessions, now_ms
from ..store.models import Task

log = logging.getLogger(__name__)

EXPIRED_MSG = "the result files were deleted after the retention period"
BATCH = 200


def sweep(settings: Settings, sessions: Sessions, storage: Storage) -> list[str]:
    """Expire every task that finished more than ``settings.retention`` seconds ago: delete
    its files (video, cover, watermarked copy, and the input images stored with it), then
    mark it. A succeeded task's message says its files are gone; a failed one keeps its
    reason. Returns their ids.

    Safe beside other sweepers: files go first (deleting twice is harmless) and the mark is
    conditional, so a crash midway only leaves work for the next sweep, never a marked task
    with files left behind."""
    expired: list[str] = []
    while True:
        now = now_ms()
        cutoff = now - settings.retention * 1000
        with sessions() as s:
            rows = s.execute(
                select(Task.id, Task.status, Task.request, Task.result)
                .where(
                    Task.status.in_(TERMINAL),
                    Task.expired_at.is_(None),
                    Task.updated_at < cutoff,
                )
                .order_by(Task.updated_at)
                .limit(BATCH)
            ).all()
        done = [row.id for row in rows if _delete_files(storage, row)]
        if done:
            succeeded = [row.id for row in rows if row.status == TaskStatus.SUCCEED]
            with sessions.begin() as s:
                s.execute(
                    update(Task)
                    .where(Task.id.in_(done), Task.expired_at.is_(None))
                    .values(expired_at=now)
                )
                s.execute(
                    update(Task)
                    .where(Task.id.in_([i for i in done if i in succeeded]))
                    .values(status_msg=EXPIRED_MSG)
                )
            expired += done
        if len(rows) < BATCH or not done:
            break
    if expired:
        log.info("retention: expired %d task(s) and deleted their files", len(expired))
    return expired


def _delete_files(storage: Storage, row) -> bool:
    """Delete a task's files; False (the task is tried again next sweep) if any failed."""
    result = TaskResult.model_validate(row.result) if row.result else None
    keys = result.keys() if result else []
    keys += [sprite_key(v.key) for v in result.videos] if result else []  # made on request
    keys += GenerationRequest.model_validate(row.request).input_keys()
    try:
        for key in keys:
            storage.delete(key)
    except Exception:
        log.exception("retention: could not delete the files of task %s", row.id)
        return False
    return True


class RetentionSweeper:
    """Runs ``sweep`` in the background: soon after start, then every
    ``retention_sweep_seconds``."""

    def __init__(self, settings: Settings, sessions: Sessions, storage: Storage) -> None:
        self.settings, self.sessions, self.storage = settings, sessions, storage
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        if self._stop.wait(1.0):  # let start-up finish first
            return
        every = self.settings.retention_sweep_seconds
        state = FailureState("retention sweep", log, base=every, most=max(every, 300.0))
        while True:
            try:
                sweep(self.settings, self.sessions, self.storage)
                state.succeeded()
            except Exception as exc:  # a database outage: try again, backing off
                state.failed(exc)
            if self._stop.wait(state.wait()):
                return
