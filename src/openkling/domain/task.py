"""A task as it crosses a seam: one frozen, typed record read from the store.

The service's creates and reads, the presenters (Kling, OpenAI), the event streams and the
callbacks all pass ``StoredTask``; neither an ORM object nor a database row leaves the task
layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, Protocol

from .status import TaskStatus


class Columns(Protocol):
    """A row's columns by name: a dict, or a database row's mapping."""

    def __getitem__(self, name: str, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class StoredTask:
    """The columns of one task (``store.models.Task``), with its status as a ``TaskStatus``."""

    id: str
    account_id: int
    family: str  # the door it came by: it is found and listed only there
    external_task_id: str | None
    model_name: str
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
    expired_at: int | None = None  # when retention removed its files

    @property
    def finished(self) -> bool:
        return self.status.is_terminal()

    @classmethod
    def from_mapping(cls, row: Columns) -> StoredTask:
        """From a row's mapping (or a dict) holding every column; JSON columns may be text
        (a raw SQLite read) and are decoded here."""
        request = row["request"]
        result = row["result"]
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            family=row["family"],
            external_task_id=row["external_task_id"],
            model_name=row["model_name"],
            request=json.loads(request) if isinstance(request, str | bytes) else request,
            status=TaskStatus(row["status"]),
            status_msg=row["status_msg"] or "",
            progress=row["progress"],
            seed=row["seed"],
            cost_milli=row["cost_milli"],
            result=json.loads(result) if isinstance(result, str | bytes) else result,
            callback_url=row["callback_url"],
            attempts=row["attempts"],
            lease_owner=row["lease_owner"],
            lease_expires_at=row["lease_expires_at"],
            cancel_requested=bool(row["cancel_requested"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            expired_at=row["expired_at"],
        )

    @classmethod
    def from_object(cls, task: object) -> StoredTask:
        """From any object with the columns as attributes (a ``store.models.Task``)."""
        return cls.from_mapping({name: getattr(task, name) for name in COLUMNS})


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(StoredTask))
