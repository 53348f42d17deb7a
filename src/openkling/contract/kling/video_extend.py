"""Kling's video-extend request: continue a finished video by 4-5 seconds, up to 3 minutes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...domain.request import GenerationRequest, ParentVideo
from ...domain.result import TaskResult
from ...errors import InvalidParameter
from ...net.guard import NOTHING_ALLOWED, AllowList
from ..fields import MAX_EXTERNAL_ID, MAX_PROMPT, _bad, _cfg_scale, _string, _type_name, _url

EXTEND_SECONDS = 5  # what one extension adds (Kling: 4-5 s)
MAX_TOTAL_SECONDS = 180  # Kling: the whole video may reach at most 3 minutes

# video_id -> the task row (any door) of this account whose result may hold it, or None
VideoLookup = Callable[[str], Any]


def parse_video_extend(
    body: Any, lookup: VideoLookup, *, url_allow: AllowList = NOTHING_ALLOWED
) -> GenerationRequest:
    """Validate a video-extend body; raise ``InvalidParameter`` naming the field."""
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    video_id = _string(body, "video_id", max_len=128)
    if not video_id or not video_id.strip():
        raise _bad("video_id", "is required: the id of a video of a succeeded task of yours")
    prompt = _string(body, "prompt", max_len=MAX_PROMPT) or ""
    negative_prompt = _string(body, "negative_prompt", max_len=MAX_PROMPT) or ""
    cfg_scale = _cfg_scale(body)
    callback_url = _url(_string(body, "callback_url"), allow=url_allow)
    external = _string(body, "external_task_id", max_len=MAX_EXTERNAL_ID) or None

    task = lookup(video_id)
    parent, parent_request = _parent(task, video_id)
    return GenerationRequest(
        model_name=task.model_name,
        prompt=prompt or parent_request.prompt,
        negative_prompt=negative_prompt or parent_request.negative_prompt,
        duration=EXTEND_SECONDS,
        aspect_ratio=None,
        mode=parent_request.mode,
        cfg_scale=cfg_scale,
        callback_url=callback_url,
        external_task_id=external,
        size=(parent.width, parent.height),
        parent=parent,
    )


def _parent(task: Any, video_id: str) -> tuple[ParentVideo, GenerationRequest]:
    missing = _bad(
        "video_id",
        f"'{video_id}' is not a video of yours: give the id of a video of one of your "
        "succeeded tasks (task_result.videos[].id)",
    )
    if task is None or task.status != "succeed" or not task.result:
        raise missing
    video = next(
        (v for v in TaskResult.model_validate(task.result).videos if v.id == video_id), None
    )
    if video is None:
        raise missing
    if task.expired_at is not None:
        raise _bad(
            "video_id", f"'{video_id}' has expired: its file was removed after the retention time"
        )
    if video.duration + EXTEND_SECONDS > MAX_TOTAL_SECONDS + 1e-6:
        raise _bad(
            "video_id",
            f"'{video_id}' is {video.duration:.1f} s long; an extension adds {EXTEND_SECONDS} s "
            f"and a video may reach at most {MAX_TOTAL_SECONDS} s (3 minutes)",
        )
    if video.has_audio:
        raise _bad(
            "video_id",
            f"'{video_id}' has a soundtrack; only videos without sound can be extended",
        )
    parent = ParentVideo(
        task_id=task.id,
        video_id=video.id,
        key=video.key,
        duration=video.duration,
        width=video.width,
        height=video.height,
        fps=video.fps,
        num_frames=video.num_frames,
    )
    return parent, GenerationRequest.model_validate(task.request or {})
