"""The OpenAI video object of a stored task, and the list and deleted objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...domain.queue import QueueInfo
from ...domain.request import GenerationRequest
from ...domain.result import TaskResult
from ...domain.status import TaskStatus
from ...domain.task import StoredTask
from .ids import video_id_of
from .request import SIZES, ModelTarget

STATUSES: dict[TaskStatus, str] = {
    TaskStatus.SUBMITTED: "queued",
    TaskStatus.PROCESSING: "in_progress",
    TaskStatus.SUCCEED: "completed",
    TaskStatus.FAILED: "failed",
}


def openai_model_of(req: GenerationRequest, targets: Mapping[str, ModelTarget]) -> str:
    if req.wire.get("model"):
        return req.wire["model"]
    for name, target in targets.items():  # a task stored before the name was kept
        if (target.model_name, target.mode) == (req.model_name, req.mode):
            return name
    return req.model_name


def video_object(
    task: StoredTask, targets: Mapping[str, ModelTarget], queue: QueueInfo | None = None
) -> dict[str, Any]:
    """The OpenAI video object of a stored task While it is queued, the
    openkling extensions ``queue_position`` and ``queue_eta_seconds`` follow ``progress``."""
    req = GenerationRequest.model_validate(task.request)
    status = STATUSES[task.status]
    finished = status in ("completed", "failed")
    videos = TaskResult.model_validate(task.result).videos if task.result else []
    width, height = req.size or SIZES.get(req.wire.get("size", ""), (0, 0))
    if status == "completed" and videos:  # what was made
        width, height = videos[0].width, videos[0].height
    error = None
    if status == "failed":
        error = {"code": "video_generation_failed", "message": task.status_msg or "failed"}
    extensions: dict[str, Any] = {}
    if queue is not None and status == "queued":
        extensions["queue_position"] = queue.position
        if queue.eta_seconds is not None:
            extensions["queue_eta_seconds"] = queue.eta_seconds
    return {
        "id": video_id_of(task.id),
        "object": "video",
        "model": openai_model_of(req, targets),
        "prompt": req.prompt,
        "status": status,
        "progress": 100 if status == "completed" else max(0, min(99, int(task.progress or 0))),
        **extensions,
        "created_at": task.created_at // 1000,
        "completed_at": task.updated_at // 1000 if finished else None,
        "expires_at": None,  # files are kept until the video is deleted
        "size": f"{width}x{height}",
        "seconds": str(req.duration),
        "remixed_from_video_id": video_id_of(req.remix_of) if req.remix_of else None,
        "error": error,
    }


def list_object(videos: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": videos,
        "first_id": videos[0]["id"] if videos else None,
        "last_id": videos[-1]["id"] if videos else None,
        "has_more": has_more,
    }


def deleted_object(video_id: str) -> dict[str, Any]:
    return {"id": video_id, "object": "video.deleted", "deleted": True}
