"""One attempt at a task under a lease: what a worker holds between claim and outcome."""

from __future__ import annotations

from typing import Protocol

from ..domain.request import GenerationRequest
from ..domain.result import TaskResult
from ..domain.task import StoredTask


class Leases(Protocol):
    """What a run asks of the store about its lease (``Lifecycle`` answers)."""

    def renew(self, task_id: str, owner: str, progress: int | None = None) -> tuple[bool, bool]: ...

    def release(self, task_id: str, owner: str) -> bool: ...

    def finish(
        self, task_id: str, owner: str, *, result: dict | None = None, error: str = ""
    ) -> bool: ...


class Run:
    """A claimed task. ``token`` is the run's identity (the lease holder in the store): a
    renewal, release or outcome counts only while the store still names this token.

    ``lost`` turns true when the lease is gone (another run owns the task now, or this one
    was released); ``cancelled`` when the task's owner asked to cancel it.
    """

    def __init__(self, lifecycle: Leases, task: StoredTask, token: str) -> None:
        self._lifecycle = lifecycle
        self.token = token
        self.task_id: str = task.id
        self.model_name: str = task.model_name
        self.account_id: int = task.account_id
        self.attempt: int = task.attempts
        self.seed: int = task.seed
        self.request = GenerationRequest.model_validate(task.request)
        self.lost = False
        self.cancelled = False
        self.released = False

    def renew(self, progress: int | None = None) -> None:
        """Extend the lease (and record progress); updates ``lost`` and ``cancelled``."""
        if self.released:
            return
        ours, cancel = self._lifecycle.renew(self.task_id, self.token, progress)
        self.lost = self.lost or not ours
        self.cancelled = self.cancelled or cancel

    def release(self) -> bool:
        """Hand the task back (shutdown): the next worker takes it at once, and this attempt
        does not count. The run stops at its next step without recording anything."""
        self.released = self.lost = True
        return self._lifecycle.release(self.task_id, self.token)

    def succeed(self, result: TaskResult) -> bool:
        return self._lifecycle.finish(
            self.task_id, self.token, result=result.model_dump(mode="json")
        )

    def fail(self, reason: str) -> bool:
        return self._lifecycle.finish(self.task_id, self.token, error=reason or "failed")
