"""The 2026 task record: a stored task as Kling's new design shows it (create answers, /tasks,
callbacks), with fresh signed URLs for its files."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ...domain.catalog import format_credits
from ...domain.queue import QueueInfo
from ...domain.result import TaskResult
from ...domain.status import TaskStatus
from ...domain.task import StoredTask
from ...storage.base import Storage
from ..kling.responses import format_duration

Status2026 = Literal["submitted", "processing", "succeeded", "failed"]
# each status in the 2026 API's words: it says "succeeded" where the legacy API says "succeed"
STATUS_2026: dict[TaskStatus, Status2026] = {
    TaskStatus.SUBMITTED: "submitted",
    TaskStatus.PROCESSING: "processing",
    TaskStatus.SUCCEED: "succeeded",
    TaskStatus.FAILED: "failed",
}


class VideoOutput(BaseModel):
    type: Literal["video"] = "video"
    id: str
    url: str
    watermark_url: str = ""  # "" when no watermarked copy was asked for
    duration: str  # seconds, e.g. "5.0"
    cover_url: str | None = None  # beyond Kling
    expired: bool | None = None  # beyond Kling: files deleted after retention (url is "")


class Billing(BaseModel):
    charge_type: Literal["unit"] = "unit"
    amount: str  # credits charged, as a decimal string; "0" once refunded
    package_type: Literal["video"] = "video"


class TaskRecord(BaseModel):
    """``data`` of the 2026 answers and the body of their callbacks. ``task_progress`` is an
    openkling extension, and so are ``queue_position`` (1: next for its model) and
    ``queue_eta_seconds`` (the expected wait before it starts) while the task waits."""

    id: str
    status: Status2026
    message: str = ""
    create_time: int
    update_time: int
    external_id: str | None = None
    outputs: list[VideoOutput] | None = None
    billing: list[Billing] | None = None
    task_progress: int = 0
    queue_position: int | None = None
    queue_eta_seconds: int | None = None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class CreatedRecord(BaseModel):
    """``data`` of a create answer: the record without outputs and billing."""

    id: str
    status: Status2026
    create_time: int
    update_time: int
    external_id: str | None = None


class TaskPage(BaseModel):
    """``data`` of ``POST /tasks``."""

    result: list[TaskRecord] = Field(default_factory=list)
    count: int
    next_cursor: str
    has_more: bool


def task_record(
    task: StoredTask,
    storage: Storage,
    *,
    base_url: str,
    expires_in: int,
    queue: QueueInfo | None = None,
) -> dict:
    """The full record of a stored task; ``queue`` is its place in line while it waits."""
    outputs: list[VideoOutput] = []
    if task.status is TaskStatus.SUCCEED and task.result:
        stored = TaskResult.model_validate(task.result)

        def url(key: str | None) -> str:
            return storage.url(key, base_url=base_url, expires_in=expires_in) if key else ""

        for video in stored.videos:
            if task.expired_at is None:
                outputs.append(
                    VideoOutput(
                        id=video.id,
                        url=url(video.key),
                        watermark_url=url(video.watermark_key),
                        duration=format_duration(video.duration),
                        cover_url=url(video.cover_key) or None,
                    )
                )
            else:  # past retention the files are gone: listed, with no URLs
                outputs.append(
                    VideoOutput(
                        id=video.id, url="", duration=format_duration(video.duration), expired=True
                    )
                )
    charged = task.cost_milli if task.status is not TaskStatus.FAILED else 0
    waiting = queue if task.status is TaskStatus.SUBMITTED else None  # its place in line
    return TaskRecord(
        id=task.id,
        status=STATUS_2026[task.status],
        message=task.status_msg or "",
        create_time=task.created_at,
        update_time=task.updated_at,
        external_id=task.external_task_id or None,
        outputs=outputs,
        billing=[Billing(amount=format_credits(charged))],
        task_progress=task.progress or 0,
        queue_position=waiting.position if waiting else None,
        queue_eta_seconds=waiting.eta_seconds if waiting else None,
    ).wire()


def created_record(task: StoredTask) -> dict:
    """What a create answers: the record without outputs (Kling's create response)."""
    return CreatedRecord(
        id=task.id,
        status=STATUS_2026[task.status],
        create_time=task.created_at,
        update_time=task.updated_at,
        external_id=task.external_task_id or None,
    ).model_dump(exclude_none=True)


def probe_body(task_id: str, now_ms: int) -> dict:
    """Kling's test callback: a made-up submitted task with no outputs."""
    return {
        "id": task_id,
        "status": STATUS_2026[TaskStatus.SUBMITTED],
        "outputs": [],
        "message": "",
        "create_time": now_ms,
        "update_time": now_ms,
    }
