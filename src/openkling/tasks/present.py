"""Turn a stored task into the Kling task object, with fresh signed URLs for its files."""

from __future__ import annotations

from ..catalog import format_credits
from ..contract import TaskPublic, TaskResultPublic, VideoPublic, format_duration
from ..storage.base import Storage
from ..store.models import Task
from .result import TaskResult


def task_object(task: Task, storage: Storage, *, base_url: str, expires_in: int) -> dict:
    result = None
    if task.status == "succeed" and task.result:
        stored = TaskResult.model_validate(task.result)

        def url(key: str) -> str:
            return storage.url(key, base_url=base_url, expires_in=expires_in)

        result = TaskResultPublic(
            videos=[
                VideoPublic(
                    id=video.id,
                    url=url(video.key),
                    duration=format_duration(video.duration),
                    cover_url=url(video.cover_key) if video.cover_key else None,
                    watermark_url=url(video.watermark_key) if video.watermark_key else None,
                )
                for video in stored.videos
            ]
        )
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
