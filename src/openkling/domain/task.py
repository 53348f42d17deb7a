"""A task as it crosses a seam: one immutable, typed record read from the store.

The service's creates and reads, the presenters (Kling legacy and 2026, OpenAI), the event
streams, the callbacks and a worker's run all take ``StoredTask``; neither an ORM object nor a
database row leaves the task layer. It is a ``NamedTuple`` on purpose: a get builds one per
request, and a tuple made from the row's values costs a fraction of a dataclass's ``__init__``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from .status import TaskStatus


class Columns(Protocol):
    """A row's columns by name: a dict, or a database row's mapping."""

    def __getitem__(self, name: str, /) -> Any: ...


class StoredTask(NamedTuple):
    """The columns of one task, in the table's order (``store.models.Task``), with its status
    as a ``TaskStatus`` and its JSON columns decoded."""

    id: str
    account_id: int
    external_task_id: str | None
    model_name: str
    family: str  # the door it came by: it is found and listed only there
    request: dict[str, Any]  # a GenerationRequest, normalised (``model_dump(mode="json")``)
    status: TaskStatus
    status_msg: str
    progress: int
    seed: int
    cost_milli: int
    result: dict[str, Any] | None  # a TaskResult once it succeeded
    callback_url: str | None
    attempts: int
    lease_owner: str | None
    lease_expires_at: int | None
    cancel_requested: bool
    created_at: int  # milliseconds since the epoch
    updated_at: int
    expired_at: int | None  # when retention removed its files
    started_at: int | None  # when its current (last) run claimed it
    passed_over: int  # times the fair claim passed it over for a worker's loaded model

    @property
    def finished(self) -> bool:
        return self.status.is_terminal()

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> StoredTask:
        """From the column values in ``COLUMNS`` order (a row of ``select(TASKS)``); JSON
        columns may be text (a raw SQLite read) and are decoded here."""
        v = list(values)
        v[_STATUS] = TaskStatus(v[_STATUS])
        if isinstance(v[_REQUEST], str | bytes):
            v[_REQUEST] = json.loads(v[_REQUEST])
        if isinstance(v[_RESULT], str | bytes):
            v[_RESULT] = json.loads(v[_RESULT])
        v[_CANCEL] = bool(v[_CANCEL])
        v[_MSG] = v[_MSG] or ""
        return cls._make(v)

    @classmethod
    def from_mapping(cls, row: Columns) -> StoredTask:
        """From a mapping holding every column (a dict, a row's ``_mapping``)."""
        return cls.from_values([row[name] for name in COLUMNS])

    @classmethod
    def from_object(cls, task: object) -> StoredTask:
        """From any object with the columns as attributes (a ``store.models.Task``)."""
        return cls.from_values([getattr(task, name) for name in COLUMNS])


COLUMNS: tuple[str, ...] = StoredTask._fields
_STATUS, _REQUEST, _RESULT, _CANCEL, _MSG = (
    COLUMNS.index(name)
    for name in ("status", "request", "result", "cancel_requested", "status_msg")
)
