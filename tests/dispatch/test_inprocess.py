"""The in-process dispatcher: tasks run on its threads, and with none it holds nothing."""

from __future__ import annotations

import threading

from openkling.dispatch.inprocess import InProcessDispatcher


def test_submitted_tasks_run_once_each_on_the_worker_threads():
    ran: list[str] = []
    done = threading.Event()

    def run(task_id: str) -> None:
        ran.append(task_id)
        if len(ran) == 3:
            done.set()

    dispatcher = InProcessDispatcher(run, workers=2, stale=lambda: [], sweep_seconds=60)
    dispatcher.start()
    try:
        for task_id in ("a", "b", "c"):
            dispatcher.submit(task_id, "kling-v1")
        assert done.wait(10)
    finally:
        dispatcher.stop()
    assert sorted(ran) == ["a", "b", "c"]


def test_with_no_workers_submissions_are_not_held_in_memory():
    """An API-only process (OPENKLING_WORKERS=0) leaves tasks to servers that run them:
    queueing ids nobody will take would grow with every create."""
    dispatcher = InProcessDispatcher(lambda _: None, workers=0, stale=lambda: [], sweep_seconds=60)
    dispatcher.start()
    try:
        for n in range(1000):
            dispatcher.submit(f"task-{n}", "kling-v1")
        assert dispatcher._queue.qsize() == 0 and not dispatcher._queued
    finally:
        dispatcher.stop()
