"""The in-process dispatcher: a submit wakes a thread, which runs tasks until none waits."""

from __future__ import annotations

import threading
import time

from openkling.dispatch.inprocess import InProcessDispatcher


def test_a_submit_wakes_a_thread_that_runs_until_nothing_waits():
    waiting: list[str] = []
    ran: list[tuple[str, str | None]] = []
    lock = threading.Lock()
    done = threading.Event()

    def run_next(loaded: str | None) -> str | None:
        with lock:
            if not waiting:
                return None
            task = waiting.pop(0)
        ran.append((task, loaded))
        if len(ran) == 3:
            done.set()
        return "kling-v1"

    dispatcher = InProcessDispatcher(run_next, workers=2, sweep_seconds=60)
    dispatcher.start()
    try:
        time.sleep(0.1)  # both threads looked, found nothing, and sleep until woken
        with lock:
            waiting.extend(["a", "b", "c"])
        dispatcher.submit("a", "kling-v1")
        assert done.wait(10)
    finally:
        dispatcher.stop()
    assert sorted(task for task, _ in ran) == ["a", "b", "c"]
    # a thread's next run knows the model its previous run loaded
    assert any(loaded == "kling-v1" for _, loaded in ran)


def test_an_idle_thread_looks_again_without_a_wakeup():
    """A lost wake-up loses no task: idle threads look at the store every sweep."""
    looks = []
    dispatcher = InProcessDispatcher(
        lambda loaded: looks.append(1) and None, workers=1, sweep_seconds=0.05
    )
    dispatcher.start()
    try:
        time.sleep(0.5)
    finally:
        dispatcher.stop()
    assert len(looks) >= 4


def test_with_no_workers_submissions_are_not_held_in_memory():
    """An API-only process (OPENKLING_WORKERS=0) leaves tasks to servers that run them."""
    dispatcher = InProcessDispatcher(lambda _: None, workers=0, sweep_seconds=60)
    dispatcher.start()
    try:
        for n in range(1000):
            dispatcher.submit(f"task-{n}", "kling-v1")
        assert dispatcher._wakeups == 0
    finally:
        dispatcher.stop()
