"""In-process dispatcher: worker threads in the server process, woken when tasks arrive."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# run_next(loaded) runs the next task the store's fair claim gives this thread and returns
# its model (the pipeline now loaded), or None when no task waits
RunNext = Callable[[str | None], str | None]


class InProcessDispatcher:
    """A submit is a wake-up, not a queue entry: which task runs next is decided in the task
    store by the fair claim. A woken thread runs tasks until none waits, then sleeps until
    the next wake-up or ``sweep_seconds``, when it looks again; so a task nobody is running
    (left by a crash, or whose lease ran out) is taken without any message."""

    name = "inprocess"

    def __init__(
        self,
        run_next: RunNext,
        *,
        workers: int,
        sweep_seconds: float,
        grace_seconds: float = 5.0,
    ) -> None:
        self._grace = grace_seconds
        self._run_next = run_next
        self._workers = workers
        self._sweep_seconds = sweep_seconds
        self._wakeups = 0  # submits not yet answered by a thread's look at the store
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit(self, task_id: str, model_name: str) -> None:
        if not self._workers:  # nothing here runs tasks: a server with workers takes them
            return
        with self._cond:
            self._wakeups = min(self._wakeups + 1, self._workers)
            self._cond.notify()

    def start(self) -> None:
        for i in range(self._workers):
            t = threading.Thread(target=self._work, name=f"worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + self._grace  # running tasks may finish meanwhile
        for t in self._threads:
            t.join(timeout=max(deadline - time.monotonic(), 0.01))

    def check(self) -> None:
        if self._workers and not any(t.is_alive() for t in self._threads):
            raise RuntimeError("no in-process worker thread is alive")

    def _work(self) -> None:
        loaded: str | None = None  # the model of this thread's last run
        while not self._stop.is_set():
            try:
                ran = self._run_next(loaded)
            except Exception:  # the worker records failures itself; never let the thread die
                log.exception("worker failed to claim or run a task")
                ran = None
                self._stop.wait(min(self._sweep_seconds, 1.0))
            if ran is not None:
                loaded = ran
                continue
            with self._cond:
                if self._wakeups == 0 and not self._stop.is_set():
                    self._cond.wait(self._sweep_seconds)
                self._wakeups = max(self._wakeups - 1, 0)
