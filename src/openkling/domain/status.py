"""Task states and the transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    SUCCEED = "succeed"
    FAILED = "failed"

    def is_terminal(self) -> bool:
        return self in TERMINAL


# a task still to finish: it counts against the account's concurrency limit
UNFINISHED: tuple[TaskStatus, ...] = (TaskStatus.SUBMITTED, TaskStatus.PROCESSING)
TERMINAL: tuple[TaskStatus, ...] = (TaskStatus.SUCCEED, TaskStatus.FAILED)

ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.SUBMITTED: frozenset({TaskStatus.PROCESSING, TaskStatus.FAILED}),
    TaskStatus.PROCESSING: frozenset({TaskStatus.SUCCEED, TaskStatus.FAILED}),
    TaskStatus.SUCCEED: frozenset(),
    TaskStatus.FAILED: frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


def check_transition(current: str, new: str) -> None:
    if TaskStatus(new) not in ALLOWED[TaskStatus(current)]:
        raise IllegalTransition(f"task cannot go from {current} to {new}")
