"""Turn a stored task into the Kling task object, with fresh signed URLs for its files."""

from __future__ import annotations

from ...domain.catalog import format_credits
from ...domain.queue import QueueInfo
from ...domain.request import GenerationRequest
from ...domain.result import TaskResult
from ...domain.status import TaskStatus
from ...domain.task import StoredTask
from ...storage.base import Storage
from .responses import ImagePublic, TaskPublic, TaskResultPublic, VideoPublic, format_duration


def task_object(
    task: StoredTask,
    storage: Storage,
    *,
    base_url: str,
    expires_in: int,
    queue: QueueInfo | None = None,
) -> dict:
    """The Kling task object; ``queue`` is the task's place in line while it waits."""
    result = None
    if task.status is TaskStatus.SUCCEED and task.result:
        stored = TaskResult.model_validate(task.result)

        def url(key: str) -> str:
            return storage.url(key, base_url=base_url, expires_in=expires_in)

        if task.expired_at is None:
            videos = [
                VideoPublic(
                    id=video.id,
                    url=url(video.key),
                    duration=format_duration(video.duration),
                    cover_url=url(video.cover_key) if video.cover_key else None,
                    watermark_url=url(video.watermark_key) if video.watermark_key else None,
                )
                for video in stored.videos
            ]
        else:  # past retention the files are gone: the videos are listed, with no URLs
            videos = [
                VideoPublic(
                    id=video.id, url="", duration=format_duration(video.duration), expired=True
                )
                for video in stored.videos
            ]
        result = TaskResultPublic(videos=videos)
        if stored.images:  # an image task: its pictures in index order, and no videos
            result = TaskResultPublic(
                images=[
                    ImagePublic(index=image.index, url="", expired=True)
                    if task.expired_at is not None
                    else ImagePublic(index=image.index, url=url(image.key))
                    for image in sorted(stored.images, key=lambda image: image.index)
                ]
            )
    info: dict = {"external_task_id": task.external_task_id} if task.external_task_id else {}
    if task.request.get("parent"):
        parent = GenerationRequest.model_validate(task.request).parent
        assert parent is not None
        info["parent_video"] = {
            "id": parent.video_id,
            "url": storage.url(parent.key, base_url=base_url, expires_in=expires_in),
            "duration": format_duration(parent.duration),
        }
    waiting = queue if task.status is TaskStatus.SUBMITTED else None  # its place in line
    return TaskPublic(
        task_id=task.id,
        task_status=task.status.value,
        task_status_msg=task.status_msg or "",
        task_info=info,
        created_at=task.created_at,
        updated_at=task.updated_at,
        final_unit_deduction=format_credits(
            task.cost_milli if task.status is not TaskStatus.FAILED else 0
        ),
        task_progress=task.progress,
        queue_position=waiting.position if waiting else None,
        queue_eta_seconds=waiting.eta_seconds if waiting else None,
        task_result=result,
    ).wire()


def request_body(task: StoredTask) -> dict:
    """The Kling create body that makes this task again, with its ``seed`` (openkling
    extension): what the studio's Reuse and its curl and Python examples start from. Input
    images are not sent back; an image2video task's images are given again by the caller."""
    req = GenerationRequest.model_validate(task.request or {})
    body: dict = {
        "model_name": task.model_name,
        "prompt": req.prompt,
        "negative_prompt": req.negative_prompt,
        "duration": str(req.duration),
        "mode": req.mode,
        "cfg_scale": req.cfg_scale,
        "sound": "on" if req.sound else "off",
        "seed": task.seed,
    }
    if req.aspect_ratio is not None:  # None: image2video takes the image's aspect
        body["aspect_ratio"] = req.aspect_ratio
    if req.camera_control is not None:
        camera = req.camera_control
        axes = camera.config.model_dump() if camera.config else {}
        config = {axis: value for axis, value in axes.items() if value}
        body["camera_control"] = {"type": camera.type, **({"config": config} if config else {})}
    if req.shots:
        body["multi_shot"] = True
        body["shot_type"] = "customize"
        body["multi_prompt"] = [
            {"index": i, "prompt": shot.prompt, "duration": str(int(shot.duration))}
            for i, shot in enumerate(req.shots, start=1)
        ]
    if req.watermark:
        body["watermark_info"] = {"enabled": True}
    return body
