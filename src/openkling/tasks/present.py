"""Turn a stored task into the Kling task object, with fresh signed URLs for its files."""

from __future__ import annotations

from ..catalog import format_credits
from ..contract import TaskPublic, TaskResultPublic, VideoPublic, format_duration
from ..storage.base import Storage
from ..store.models import Task


def task_object(task: Task, storage: Storage, *, base_url: str, expires_in: int) -> dict:
    result = None
    if task.status == "succeed" and task.result:
        videos = []
        for video in task.result.get("videos", []):
            cover = video.get("cover_key")
            videos.append(
                VideoPublic(
                    id=video["id"],
                    url=storage.url(video["key"], base_url=base_url, expires_in=expires_in),
                    duration=format_duration(video["duration"]),
                    cover_url=storage.url(cover, base_url=base_url, expires_in=expires_in)
                    if cover
                    else None,
                )
            )
        result = TaskResultPublic(videos=videos)
    info = {"external_task_id": task.external_task_id} if task.external_task_id else {}
    return TaskPublic(
        task_id=task.id,
        task_status=task.status,
        task_status_msg=task.status_msg or "",
        task_info=info,
        created_at=task.created_at,
        updated_at=task.updated_at,
        final_unit_deduction=format_credits(task.cost_milli if task.status != "failed" else 0),
        task_progress=task.progress,
        task_result=result,
    ).wire()


def request_body(task: Task) -> dict:
    """The Kling create body that makes this task again, with its ``seed`` (openkling
    extension): what the studio's Reuse and its curl and Python examples start from."""
    req = task.request or {}
    body: dict = {
        "model_name": task.model_name,
        "prompt": req.get("prompt", ""),
        "negative_prompt": req.get("negative_prompt", ""),
        "duration": str(req.get("duration", 5)),
        "aspect_ratio": req.get("aspect_ratio", "16:9"),
        "mode": req.get("mode", "std"),
        "cfg_scale": req.get("cfg_scale", 0.5),
        "sound": "on" if req.get("sound") else "off",
        "seed": task.seed,
    }
    camera = req.get("camera_control")
    if camera:
        config = {k: v for k, v in (camera.get("config") or {}).items() if v}
        body["camera_control"] = {"type": camera["type"], **({"config": config} if config else {})}
    return body
