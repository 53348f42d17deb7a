"""In-process dispatcher: a pool of worker threads in the server process, plus a sweeper."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class InProcessDispatcher:
    """Runs tasks on ``workers`` threads. The sweeper re-queues tasks nobody is running
    (left over from a crash, or whose worker's lease ran out), so none is lost."""

    name = "inprocess"

    def __init__(
        self,
        run: Callable[[str], None],
        *,
        workers: int,
        stale: Callable[[], list[tuple[str, str]]],
        sweep_seconds: float,
        grace_seconds: float = 5.0,
    ) -> None:
        self._grace = grace_seconds
        self._run = run
        self._workers = workers
        self._stale = stale
        self._sweep_seconds = sweep_seconds
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit(self, task_id: str, model_name: str) -> None:
        if not self._workers:  # nothing here runs tasks: a server with workers sweeps them up
            return
        with self._lock:
            if task_id in self._queued:
                return
            self._queued.add(task_id)
        self._queue.put(task_id)

    def start(self) -> None:
        for i in range(self._workers):
            t = threading.Thread(target=self._work, name=f"worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        if self._workers:
            sweeper = threading.Thread(target=self._sweep, name="sweeper", daemon=True)
            sweeper.start()
            self._threads.append(sweeper)

    def stop(self) -> None:
        self._stop.set()
        for _ in range(self._workers):
            self._queue.put(None)
        deadline = time.monotonic() + self._grace  # running tasks may finish meanwhile
        for t in self._threads:
            t.join(timeout=max(deadline - time.monotonic(), 0.01))

    def check(self) -> None:
        if self._workers and not any(t.is_alive() for t in self._threads):
            raise RuntimeError("no in-process worker thread is alive")

    def _work(self) -> None:
        while not self._stop.is_set():
            task_id = self._queue.get()
            if task_id is None:
                return
            with self._lock:
                self._queued.discard(task_id)
            try:
                self._run(task_id)
            except Exception:  # the worker records failures itself; never let the thread die
                log.exception("worker crashed on task %s", task_id)

    def _sweep(self) -> None:
        while True:
            try:
                for task_id, model_name in self._stale():
                    self.submit(task_id, model_name)
            except Exception:
                log.exception("sweep failed")
            if self._stop.wait(self._sweep_seconds):
                return
