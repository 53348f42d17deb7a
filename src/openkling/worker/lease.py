"""Keep a run's lease alive in the background, and say why a run must stop, in one place."""

from __future__ import annotations

import logging
import threading
import time
from enum import Enum

from ..observability.failing import FailureState
from ..tasks.run import Run

log = logging.getLogger(__name__)


class StopReason(Enum):
    LOST = "lost"  # another run owns the task now: record nothing
    CANCELLED = "cancelled"
    TIMED_OUT = "timed out"


class Lease:
    """Renews ``run`` every ``interval`` seconds in a thread, carrying the latest progress.

    ``stop_reason()`` is the single answer to "should this run stop, and why", asked by the
    engines' per-step check and between the worker's steps.
    """

    def __init__(self, run: Run, *, interval: float, timeout: float) -> None:
        self.run = run
        self._renewals = FailureState(f"task {run.task_id}: lease renewal", log)
        self.interval = interval
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.progress: int | None = None
        self._last_beat = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{run.task_id}", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def beat(self) -> None:
        try:
            self.run.renew(self.progress)
            self._renewals.succeeded()
        except Exception as exc:  # a database outage: try again next beat, logged once
            self._renewals.failed(exc)

    def report(self, progress: int) -> None:
        """Record progress; it reaches the store a few times a second at most."""
        self.progress = progress
        now = time.monotonic()
        if now - self._last_beat > 0.5:
            self._last_beat = now
            self.beat()

    def stop_reason(self) -> StopReason | None:
        if self.run.lost:
            return StopReason.LOST
        if self.run.cancelled:
            return StopReason.CANCELLED
        if time.monotonic() > self.deadline:
            return StopReason.TIMED_OUT
        return None

    def should_stop(self) -> bool:
        return self.stop_reason() is not None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()
