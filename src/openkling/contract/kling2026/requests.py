"""Request bodies of Kling's 2026 API: one pydantic model per endpoint, which validates the
body's shape (types, enums, unknown fields) and documents it in the OpenAPI document.

Rules that depend on the model in the path (its durations, resolutions, prompt length) are
checked afterwards by the parsers in ``parse``; ``validate`` turns pydantic's errors into
``InvalidParameter`` messages that name the field and what is allowed.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...domain.vocabulary import ASPECT_RATIOS, AUDIO_SETTINGS, RESOLUTIONS
from ...errors import InvalidParameter
from ..fields import _type_name
from ..model import RequestModel

_STRICT = ConfigDict(extra="forbid", strict=True)


class WatermarkInfo(BaseModel):
    model_config = _STRICT
    enabled: bool = Field(False, description="true: a watermarked copy is made too")


class Options(BaseModel):
    """``options``: general configuration shared by every endpoint."""

    model_config = _STRICT
    callback_url: str | None = Field(
        None, description="http(s) URL notified (signed, Standard Webhooks) on status changes"
    )
    external_task_id: str | None = Field(
        None, description="your own task id, unique per account; usable in GET /tasks"
    )
    watermark_info: WatermarkInfo | None = None


class TextSettings(BaseModel):
    """``settings`` of text-to-video (and omni-video): the output's length, shape and sound."""

    model_config = _STRICT
    duration: int | None = Field(None, description="seconds: 5 or 10; 3 to 15 on kling-3.0*")
    aspect_ratio: Literal[ASPECT_RATIOS] | None = Field(  # type: ignore[valid-type]
        None, description="16:9 (default), 9:16 or 1:1"
    )
    resolution: Literal[RESOLUTIONS] | None = Field(  # type: ignore[valid-type]
        None, description="720p (default), 1080p or 4k, as the model and deployment offer"
    )
    audio: Literal[AUDIO_SETTINGS] | None = Field(  # type: ignore[valid-type]
        None, description="native: a soundtrack made with the video; off (default)"
    )
    multi_shot: bool | None = Field(
        None,
        description="kling-3.0 family (default true): a prompt 'shot n, m, words; ...' makes "
        "cuts at the exact seconds",
    )


class ImageSettings(BaseModel):
    """``settings`` of image-to-video: no aspect_ratio (the first frame's aspect is kept)."""

    model_config = _STRICT
    duration: int | None = Field(None, description="seconds: 5 or 10; 3 to 15 on kling-3.0*")
    resolution: Literal[RESOLUTIONS] | None = None  # type: ignore[valid-type]
    audio: Literal[AUDIO_SETTINGS] | None = None  # type: ignore[valid-type]
    multi_shot: bool | None = None


class TextToVideoRequest(RequestModel):
    """``POST /text-to-video/{model}``."""

    model_config = _STRICT
    prompt: str = Field(description="what to make (2500 characters; 3072 on the kling-3.0 family)")
    settings: TextSettings | None = None
    options: Options | None = None


class PromptContent(BaseModel):
    model_config = _STRICT
    type: Literal["prompt"]
    text: str


class ImageContent(BaseModel):
    """An image: the first or last frame, or a reference image (omni-video)."""

    model_config = _STRICT
    type: Literal["first_frame", "last_frame", "refer_image"]
    url: str = Field(description="an http(s) URL or raw base64 of a JPG or PNG")
    id: str | None = Field(None, description="its name in the prompt, e.g. image_1")


class VideoContent(BaseModel):
    """A reference or base video: Kling's, which openkling refuses (it makes no video edits)."""

    model_config = _STRICT
    type: Literal["feature_video", "base_video"]
    url: str
    id: str | None = None


class ElementContent(BaseModel):
    """An element from Kling's element library: refused (openkling has no element library)."""

    model_config = _STRICT
    type: Literal["element"]
    element_id: str
    id: str | None = None


class VoiceContent(BaseModel):
    """A voice from Kling's voice library: refused (openkling has no voice library)."""

    model_config = _STRICT
    type: Literal["voice"]
    voice_id: str
    id: str | None = None


Content = Annotated[
    Union[PromptContent, ImageContent, VideoContent, ElementContent, VoiceContent],  # noqa: UP007
    Field(discriminator="type"),
]


class ImageToVideoRequest(RequestModel):
    """``POST /image-to-video/{model}``: a first frame (required), a prompt, a last frame."""

    model_config = _STRICT
    contents: list[Content] = Field(
        description="{type: prompt, text}, {type: first_frame, url} (required), "
        "{type: last_frame, url}"
    )
    settings: ImageSettings | None = None
    options: Options | None = None


class OmniVideoRequest(RequestModel):
    """``POST /omni-video/{model}``: a prompt, frames and reference images (@image_1, ...)."""

    model_config = _STRICT
    contents: list[Content] = Field(
        description="{type: prompt, text}, first_frame, last_frame, refer_image {url, id}"
    )
    settings: TextSettings | None = None
    options: Options | None = None


class TaskFilter(BaseModel):
    model_config = _STRICT
    key: Literal["status", "product_type"]
    values: list[str]


class TaskQueryRequest(RequestModel):
    """``POST /tasks``: one page of this account's tasks, newest first."""

    model_config = ConfigDict(extra="forbid")
    start_time: int | str | None = Field(None, description="ms; default end_time - 30 days")
    end_time: int | str | None = Field(None, description="ms; default now")
    cursor: str | None = Field(None, description="next_cursor of the page before")
    limit: int | None = Field(None, description="1 to 500, default 100")
    filters: list[TaskFilter] | None = None


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], body: Any) -> M:
    """``body`` as ``model``, or ``InvalidParameter`` naming the first field at fault."""
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidParameter(_message(model, exc.errors()[0])) from None


def _message(model: type[BaseModel], error: Any) -> str:
    loc = list(error.get("loc", ()))
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        field = _path(loc) + ".type"
        allowed = ctx.get("expected_tags", "")
        if kind == "union_tag_not_found":
            return f"{field}: is required; one of {allowed or _tags()}"
        return f"{field}: {ctx.get('tag')!r} is not allowed; allowed values: {_tags()}"
    loc = _drop_tags(loc)
    field = _path(loc)
    if kind == "extra_forbidden":
        parent = _fields_at(model, loc[:-1])
        known = f"; allowed fields: {', '.join(parent)}" if parent else ""
        return f"{field}: is not a field of this request{known}"
    if kind == "missing":
        return f"{field}: is required"
    if kind == "literal_error":
        return f"{field}: {value!r} is not allowed; allowed values: {ctx.get('expected')}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{field}: must be an integer, got {_type_name(value)} {value!r}"
    if kind == "bool_type":
        return f"{field}: must be true or false, got {_type_name(value)}"
    if kind == "string_type":
        return f"{field}: must be a string, got {_type_name(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{field}: must be an object, got {_type_name(value)}"
    if kind == "list_type":
        return f"{field}: must be an array, got {_type_name(value)}"
    return f"{field}: is not valid"


def _tags() -> str:
    return "prompt, first_frame, last_frame, refer_image, feature_video, base_video, element, voice"


def _drop_tags(loc: list) -> list:
    """pydantic puts a discriminated union's tag after the list index: contents.0.prompt.text."""
    out = []
    skip = False
    for i, part in enumerate(loc):
        if skip:
            skip = False
            continue
        out.append(part)
        if isinstance(part, int) and i > 0 and loc[i - 1] == "contents":
            skip = True
    return out


def _path(loc: list) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "request"


def _fields_at(model: type[BaseModel], loc: list) -> list[str]:
    """The field names of the model found at ``loc`` (for an unknown field's message)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
