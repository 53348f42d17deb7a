"""Kling's video-extend request: continue a finished video by 4-5 seconds, up to 3 minutes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field
from pydantic_core.core_schema import ValidationInfo

from ...domain.catalog import Catalog, default_catalog
from ...domain.request import GenerationRequest, ParentVideo
from ...domain.result import TaskResult
from ...errors import InvalidParameter
from ...net.guard import NOTHING_ALLOWED, AllowList
from .. import fields
from ..fields import MAX_PROMPT, _bad, _type_name
from ..model import Reads, RequestModel, validate
from .request import (
    CALLBACK_DOC,
    EXTERNAL_DOC,
    CallbackUrl,
    CfgScale,
    ExternalTaskId,
    KlingContext,
    text,
)

EXTEND_SECONDS = 5  # what one extension adds (Kling: 4-5 s)
MAX_TOTAL_SECONDS = 180  # Kling: the whole video may reach at most 3 minutes
MAX_VIDEO_ID = 128

# video_id -> the task row (any door) of this account whose result may hold it, or None
VideoLookup = Callable[[str], Any]


def _video_id(value: Any, field: str, info: ValidationInfo) -> str:
    video_id = fields.text(value, field, max_len=MAX_VIDEO_ID)
    if not video_id or not video_id.strip():
        raise _bad(field, "is required: the id of a video of a succeeded task of yours")
    return video_id


class VideoExtendRequest(RequestModel):
    """The body of ``POST /v1/videos/video-extend``: 5 more seconds of a finished video.
    Fields Kling does not know are ignored; the video itself is looked up after the fields."""

    wire_required = ("video_id",)

    video_id: Annotated[
        str, Reads(_video_id, wire=Annotated[str, Field(min_length=1, max_length=MAX_VIDEO_ID)])
    ] = Field(
        None,
        validate_default=True,
        description="a result video's id (task_result.videos[].id) of a succeeded task of "
        "yours, from any video door, an extension included",
    )
    prompt: Annotated[str | None, text(MAX_PROMPT)] = Field(
        None, description="what happens next; default: the parent's prompt"
    )
    negative_prompt: Annotated[str | None, text(MAX_PROMPT)] = Field(
        None, description="default: the parent's"
    )
    cfg_scale: CfgScale = 0.5
    callback_url: CallbackUrl = Field(None, description=CALLBACK_DOC)
    external_task_id: ExternalTaskId = Field(None, description=EXTERNAL_DOC)


def parse_video_extend(
    body: Any,
    lookup: VideoLookup,
    *,
    catalog: Catalog | None = None,
    url_allow: AllowList = NOTHING_ALLOWED,
) -> GenerationRequest:
    """Validate a video-extend body; raise ``InvalidParameter`` naming the field. The video
    is looked up (``lookup``) only once every field is good."""
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    context = KlingContext(catalog or default_catalog(), url_allow)
    model = validate(VideoExtendRequest, body, context)
    task = lookup(model.video_id)
    parent, parent_request = _parent(task, model.video_id)
    return GenerationRequest(
        model_name=task.model_name,
        prompt=model.prompt or parent_request.prompt,
        negative_prompt=model.negative_prompt or parent_request.negative_prompt,
        duration=EXTEND_SECONDS,
        aspect_ratio=None,
        mode=parent_request.mode,
        cfg_scale=model.cfg_scale,
        callback_url=model.callback_url,
        external_task_id=model.external_task_id,
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
