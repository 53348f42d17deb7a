"""The dispatcher interface: the API hands over a task id; a worker somewhere runs it."""

from __future__ import annotations

from typing import Protocol


class Dispatcher(Protocol):
    name: str

    def submit(self, task_id: str, model_name: str) -> None:
        """Queue a task for a worker. May be called again for the same id (at-least-once)."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def check(self) -> None:
        """Raise if the dispatcher cannot accept work (readiness)."""
        ...
