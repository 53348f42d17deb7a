"""Response objects of Kling's 2026 API: the task record (``outputs[]``, ``billing[]``) and a
page of ``POST /tasks``. Parsed leniently: unknown fields are kept in ``raw``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .types import _dict, _int, _str

__all__ = ["Billing", "Output", "TaskPage", "TaskRecord"]

TERMINAL = ("succeeded", "failed")


@dataclass(frozen=True)
class Output:
    """One result (``type`` "video"): ``duration`` stays the string Kling sends ("5.0")."""

    type: str
    id: str
    url: str
    watermark_url: str = ""
    duration: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def seconds(self) -> float | None:
        try:
            return float(self.duration)
        except ValueError:
            return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Output:
        return cls(
            type=_str(data.get("type"), "video"),
            id=_str(data.get("id")),
            url=_str(data.get("url")),
            watermark_url=_str(data.get("watermark_url")),
            duration=_str(data.get("duration")),
            raw=data,
        )


@dataclass(frozen=True)
class Billing:
    charge_type: str
    amount: str
    package_type: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Billing:
        return cls(
            charge_type=_str(data.get("charge_type")),
            amount=_str(data.get("amount"), "0"),
            package_type=_str(data.get("package_type")),
            raw=data,
        )


@dataclass(frozen=True)
class TaskRecord:
    """A task as the 2026 API shows it (create answers carry no outputs or billing)."""

    id: str
    status: str  # submitted | processing | succeeded | failed
    message: str = ""
    create_time: int | None = None
    update_time: int | None = None
    external_id: str | None = None
    outputs: list[Output] = field(default_factory=list)
    billing: list[Billing] = field(default_factory=list)
    progress: int | None = None  # openkling's task_progress (0..100), when the server sends it
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def video(self) -> Output | None:
        return next((o for o in self.outputs if o.type == "video"), None)

    # the legacy names, so the SDK's shared errors (TaskFailedError, WaitTimeout) read both
    @property
    def task_id(self) -> str:
        return self.id

    @property
    def task_status(self) -> str:
        return self.status

    @property
    def task_status_msg(self) -> str:
        return self.message

    @property
    def task_progress(self) -> int | None:
        return self.progress

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @classmethod
    def from_dict(cls, data: Any) -> TaskRecord:
        data = _dict(data)
        return cls(
            id=_str(data.get("id")),
            status=_str(data.get("status")),
            message=_str(data.get("message")),
            create_time=_int(data.get("create_time")),
            update_time=_int(data.get("update_time")),
            external_id=data.get("external_id") or None,
            outputs=[Output.from_dict(o) for o in data.get("outputs") or [] if isinstance(o, dict)],
            billing=[
                Billing.from_dict(b) for b in data.get("billing") or [] if isinstance(b, dict)
            ],
            progress=_int(data.get("task_progress")),
            raw=data,
        )


@dataclass(frozen=True)
class TaskPage:
    """One page of ``POST /tasks``: pass ``next_cursor`` back for the next one."""

    result: list[TaskRecord]
    count: int
    next_cursor: str
    has_more: bool

    @classmethod
    def from_dict(cls, data: Any) -> TaskPage:
        data = _dict(data)
        result = [TaskRecord.from_dict(r) for r in data.get("result") or []]
        return cls(
            result=result,
            count=_int(data.get("count")) or len(result),
            next_cursor=_str(data.get("next_cursor")),
            has_more=bool(data.get("has_more")),
        )
