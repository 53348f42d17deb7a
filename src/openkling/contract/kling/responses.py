"""Kling's response side: the task object, the envelopes and the costs report."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# the wire spelling of each domain.status.TaskStatus (the legacy API says "succeed")
WireStatus = Literal["submitted", "processing", "succeed", "failed"]


class VideoPublic(BaseModel):
    id: str
    url: str
    duration: str  # seconds as a string, e.g. "5.1"
    cover_url: str | None = None  # beyond Kling
    expired: bool | None = None  # beyond Kling: files deleted after retention (url is "")
    watermark_url: str | None = None  # the watermarked copy, when watermark_info asked for it


class ImagePublic(BaseModel):
    """One picture of an image task (``/v1/images/generations``)."""

    index: int  # from 0, in the order asked for
    url: str
    expired: bool | None = None  # beyond Kling: files deleted after retention (url is "")


class TaskResultPublic(BaseModel):
    """``videos`` for a video task, ``images`` for an image task (the other is left out)."""

    videos: list[VideoPublic] | None = None
    images: list[ImagePublic] | None = None


class TaskPublic(BaseModel):
    """The task object (``data``), as Kling sends it, plus ``task_progress`` and, while the
    task waits, ``queue_position`` (1: next for its model) and ``queue_eta_seconds`` (the
    expected wait before it starts), all beyond Kling."""

    task_id: str
    task_status: WireStatus
    task_status_msg: str = ""
    task_info: dict[str, Any] = Field(default_factory=dict)
    created_at: int
    updated_at: int
    final_unit_deduction: str = "0"
    task_progress: int = 0
    queue_position: int | None = None
    queue_eta_seconds: int | None = None
    task_result: TaskResultPublic | None = None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


def success(data: Any, request_id: str) -> dict[str, Any]:
    return {"code": 0, "message": "SUCCEED", "request_id": request_id, "data": data}


def failure(code: int, message: str, request_id: str) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": request_id}


def format_duration(seconds: float) -> str:
    """Kling writes a video's length as a decimal string: 5.0 -> "5.0", 5.0417 -> "5.042"."""
    text = f"{seconds:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text
