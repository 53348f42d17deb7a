"""The OpenAI video wire format: request parsing with OpenAI's rules, the video object, errors."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ... import errors as e
from ...domain.catalog import Catalog
from ...domain.queue import QueueInfo
from ...domain.request import GenerationRequest, ImageInput
from ...domain.result import TaskResult
from ...domain.status import TaskStatus
from ...domain.vocabulary import DEFAULT_MODEL
from ...errors import InvalidParameter, TaskNotFound
from ..fields import MAX_PROMPT, MAX_URL, _string, _type_name

FAMILY = "openai"  # tasks made through /v1/videos; that door finds and lists only these
ID_PREFIX = "video_"

DEFAULT_OPENAI_MODEL = "sora-2"
OPENAI_MODELS = ("sora-2", "sora-2-pro")
SECONDS = ("4", "8", "12", "16", "20")
DEFAULT_SECONDS = "4"
SIZES: dict[str, tuple[int, int]] = {
    "720x1280": (720, 1280),
    "1280x720": (1280, 720),
    "1024x1792": (1024, 1792),
    "1792x1024": (1792, 1024),
}
DEFAULT_SIZE = "720x1280"
ORDERS = ("asc", "desc")
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 20

# what GET /v1/videos/{id}/content?variant= serves, and its content type
VARIANTS: dict[str, str] = {
    "video": "video/mp4",
    "thumbnail": "image/jpeg",
    "spritesheet": "image/jpeg",
}

STATUSES: dict[str, str] = {
    TaskStatus.SUBMITTED: "queued",
    TaskStatus.PROCESSING: "in_progress",
    TaskStatus.SUCCEED: "completed",
    TaskStatus.FAILED: "failed",
}


def _bad(param: str, message: str) -> InvalidParameter:
    return InvalidParameter(f"{param}: {message}", param=param)


# ---- model mapping --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelTarget:
    """The Kling model and mode that serve one OpenAI model name."""

    model_name: str
    mode: str


def model_targets(setting: Mapping[str, str], catalog: Catalog) -> dict[str, ModelTarget]:
    """OpenAI model name -> Kling model and mode, from ``OPENKLING_OPENAI_MODEL_MAP``; unset,
    sora-2 is the catalog's default model in std mode and sora-2-pro the same model in pro."""
    if setting:
        targets = {}
        for name, value in setting.items():
            model, _, mode = value.partition(":")
            targets[name] = ModelTarget(model, mode or "std")
        return targets
    base = DEFAULT_MODEL if DEFAULT_MODEL in catalog.models else next(iter(catalog.names), "")
    return {"sora-2": ModelTarget(base, "std"), "sora-2-pro": ModelTarget(base, "pro")}


_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def target_name(model: str, models: Mapping[str, ModelTarget]) -> str | None:
    """The map entry serving ``model``: itself, or for a dated snapshot such as
    sora-2-2025-10-06 the name without its date."""
    if model in models:
        return model
    base = _SNAPSHOT.sub("", model)
    return base if base in models else None


# ---- requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """An uploaded file (a multipart part)."""

    data: bytes
    content_type: str
    filename: str


@dataclass(frozen=True)
class ImageUrl:
    """``input_reference: {"image_url": ...}``: an http(s) URL or a base64 ``data:`` URL."""

    url: str


@dataclass(frozen=True)
class VideoCreate:
    """A create request checked with OpenAI's rules, before it meets the catalog."""

    prompt: str
    model: str
    seconds: str
    size: str
    reference: Upload | ImageUrl | None = None

    @property
    def width_height(self) -> tuple[int, int]:
        return SIZES[self.size]


def _text(body: Mapping[str, Any], field: str) -> str | None:
    value = body.get(field)
    if isinstance(value, Upload):
        raise _bad(field, "must be a text field, not a file")
    return _string(dict(body), field) if value is not None else None


def _prompt(body: Mapping[str, Any]) -> str:
    value = body.get("prompt")
    if isinstance(value, Upload):
        raise _bad("prompt", "must be a text field, not a file")
    if value is not None and not isinstance(value, str):
        raise _bad("prompt", f"must be a string, got {_type_name(value)}")
    if value is None or not value.strip():
        raise _bad("prompt", f"is required and must not be empty (at most {MAX_PROMPT} characters)")
    if len(value) > MAX_PROMPT:
        raise _bad("prompt", f"must be at most {MAX_PROMPT} characters, got {len(value)}")
    return _string({"prompt": value}, "prompt")  # NUL and lone-surrogate checks


def _seconds(body: Mapping[str, Any]) -> str:
    value = body.get("seconds")
    if value is None:
        return DEFAULT_SECONDS
    allowed = ", ".join(f'"{s}"' for s in SECONDS)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = str(int(value))
    if not isinstance(value, str) or value.strip() not in SECONDS:
        shown = value if isinstance(value, str) else f"{_type_name(value)} {value!r}"
        raise _bad("seconds", f"{shown!r} is not allowed; allowed values: {allowed}")
    return value.strip()


def _reference(body: Mapping[str, Any]) -> Upload | ImageUrl | None:
    value = body.get("input_reference")
    # a multipart form writes {"image_url": ...} as input_reference[image_url]=...
    nested = {k[len("input_reference[") : -1]: v for k, v in body.items() if _is_nested(k)}
    if value is None and nested:
        value = nested
    if value is None or isinstance(value, Upload):
        if isinstance(value, Upload) and not value.data:
            raise _bad("input_reference", "the uploaded file is empty")
        return value
    if isinstance(value, str):
        raise _bad(
            "input_reference",
            "must be an uploaded image file (multipart/form-data) or an object "
            '{"image_url": "..."}',
        )
    if not isinstance(value, dict):
        raise _bad("input_reference", f"must be a file or an object, got {_type_name(value)}")
    unknown = sorted(set(value) - {"image_url", "file_id"})
    if unknown:
        raise _bad(
            "input_reference",
            f"unknown key '{unknown[0]}'; allowed keys: image_url, file_id",
        )
    if value.get("file_id") is not None:
        raise _bad(
            "input_reference.file_id",
            "openkling has no Files API; upload the image as input_reference or send "
            '{"image_url": "https://... or data:image/...;base64,..."}',
        )
    url = value.get("image_url")
    if not isinstance(url, str) or not url.strip():
        raise _bad("input_reference.image_url", "is required and must be a non-empty string")
    url = url.strip()
    if not url.startswith("data:") and len(url) > MAX_URL:
        raise _bad("input_reference.image_url", f"must be at most {MAX_URL} characters")
    scheme = url.partition(":")[0].lower()
    if scheme not in ("http", "https", "data"):
        raise _bad(
            "input_reference.image_url",
            "must be an http(s) URL or a data:image/...;base64 URL",
        )
    return ImageUrl(url)


def _is_nested(key: object) -> bool:
    return isinstance(key, str) and key.startswith("input_reference[") and key.endswith("]")


KNOWN_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")


def parse_create(body: Any, models: Mapping[str, ModelTarget]) -> VideoCreate:
    """Check a create body (a JSON object, or a form's fields with files as ``Upload``)."""
    if not isinstance(body, Mapping):
        raise e.MalformedRequest(f"request body must be a JSON object, got {_type_name(body)}")
    for key in body:
        if key not in KNOWN_FIELDS and not _is_nested(key):
            raise _bad(str(key), f"unknown parameter; allowed: {', '.join(KNOWN_FIELDS)}")
    prompt = _prompt(body)
    model = _text(body, "model") or DEFAULT_OPENAI_MODEL
    if target_name(model, models) is None:
        raise _bad("model", f"'{model}' is not allowed; allowed values: {', '.join(models)}")
    size = _text(body, "size") or DEFAULT_SIZE
    if size not in SIZES:
        raise _bad("size", f"'{size}' is not allowed; allowed values: {', '.join(SIZES)}")
    return VideoCreate(
        prompt=prompt,
        model=model,
        seconds=_seconds(body),
        size=size,
        reference=_reference(body),
    )


def check_target(create: VideoCreate, target: ModelTarget, catalog: Catalog) -> None:
    """The catalog says whether the mapped Kling model serves this request at all."""
    entry = catalog.get(target.model_name)
    if entry is None or target.mode not in entry.modes:
        raise e.InternalError(
            f"model: '{create.model}' maps to {target.model_name} in {target.mode} mode, which "
            "this server does not serve; set OPENKLING_OPENAI_MODEL_MAP"
        )
    if create.reference is None and not entry.text2video:
        raise _bad(
            "input_reference",
            f"is required: model '{create.model}' is served by {target.model_name}, which "
            "makes video from an image only",
        )
    if create.reference is not None and not entry.image2video:
        raise _bad(
            "input_reference",
            f"model '{create.model}' is served by {target.model_name}, which does not take an "
            f"image; models that do: {', '.join(catalog.supporting('image2video')) or 'none'}",
        )


def generation_request(
    create: VideoCreate, target: ModelTarget, image: ImageInput | None, *, exact_size: bool = True
) -> GenerationRequest:
    """The normalised request for ``create`` served by ``target`` (see ``check_target``):
    exactly the requested size, or with ``exact_size`` off its aspect at the engine's own
    resolution."""
    width, height = create.width_height
    return GenerationRequest(
        model_name=target.model_name,
        prompt=create.prompt,
        duration=int(create.seconds),
        aspect_ratio="16:9" if width > height else "9:16",
        mode=target.mode,
        image=image,
        size=(width, height) if exact_size else None,
        wire={"model": create.model, "size": create.size},
    )


def parse_remix(body: Any) -> str:
    """The new prompt of ``POST /v1/videos/{id}/remix``."""
    if not isinstance(body, Mapping):
        raise e.MalformedRequest(f"request body must be a JSON object, got {_type_name(body)}")
    for key in body:
        if key != "prompt":
            raise _bad(str(key), "unknown parameter; allowed: prompt")
    return _prompt(body)


def remix_request(source: GenerationRequest, prompt: str, seed: int, source_id: str):
    """The source's settings and seed with a new prompt."""
    return source.model_copy(
        update={"prompt": prompt, "seed": seed, "remix_of": source_id, "external_task_id": None}
    )


@dataclass(frozen=True)
class ListQuery:
    after: str | None  # a task id
    limit: int
    order: str


def parse_list_query(params: Mapping[str, str]) -> ListQuery:
    raw_limit = params.get("limit")
    limit = DEFAULT_LIST_LIMIT
    if raw_limit not in (None, ""):
        if not raw_limit.strip().isdecimal() or not 1 <= int(raw_limit) <= MAX_LIST_LIMIT:
            raise _bad("limit", f"must be an integer from 1 to {MAX_LIST_LIMIT}, got {raw_limit!r}")
        limit = int(raw_limit)
    order = params.get("order") or "desc"
    if order not in ORDERS:
        raise _bad("order", f"'{order}' is not allowed; allowed values: asc, desc")
    after = params.get("after") or None
    if after is not None:
        after = task_id_of(after, param="after", missing=_bad)
    return ListQuery(after=after, limit=limit, order=order)


def parse_variant(params: Mapping[str, str]) -> str:
    variant = params.get("variant") or "video"
    if variant not in VARIANTS:
        raise _bad("variant", f"'{variant}' is not allowed; allowed values: {', '.join(VARIANTS)}")
    return variant


# ---- ids ------------------------------------------------------------------------------------


def video_id_of(task_id: str) -> str:
    return ID_PREFIX + task_id


def task_id_of(video_id: str, *, param: str = "video_id", missing=None) -> str:
    """The task id inside a ``video_...`` id; anything else names no video."""
    task_id = video_id[len(ID_PREFIX) :] if video_id.startswith(ID_PREFIX) else ""
    if not task_id.isascii() or not task_id.isdecimal() or len(task_id) > 32:
        message = f"video '{video_id[:80]}' does not exist"
        if missing is not None:
            raise missing(param, f"'{video_id[:80]}' is not a video id (video_...)")
        raise TaskNotFound(message, param=param)
    return task_id


# ---- responses ------------------------------------------------------------------------------


def openai_model_of(req: GenerationRequest, targets: Mapping[str, ModelTarget]) -> str:
    if req.wire.get("model"):
        return req.wire["model"]
    for name, target in targets.items():  # a task stored before the name was kept
        if (target.model_name, target.mode) == (req.model_name, req.mode):
            return name
    return req.model_name


def video_object(
    task: Any, targets: Mapping[str, ModelTarget], queue: QueueInfo | None = None
) -> dict[str, Any]:
    """The OpenAI video object of a stored task (a row or a Task). While it is queued, the
    openkling extensions ``queue_position`` and ``queue_eta_seconds`` follow ``progress``."""
    req = GenerationRequest.model_validate(task.request)
    status = STATUSES.get(task.status, "queued")
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


# OpenAI's error `type` and `code` for each of openkling's errors (the HTTP status comes from
# api.errors). Credits run out as OpenAI's `insufficient_quota` (429, which the SDK raises as
# RateLimitError); the response tells the SDK not to retry it.
class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorEnvelope(BaseModel):
    """Every error on the OpenAI routes: ``{"error": {...}}``."""

    error: OpenAIErrorDetail


ERROR_KINDS: dict[type[e.OpenklingError], tuple[str, str]] = {
    e.MethodNotAllowed: ("invalid_request_error", "method_not_allowed"),
    e.EndpointNotFound: ("invalid_request_error", "not_found"),
    e.AuthError: ("invalid_request_error", "invalid_api_key"),
    e.InsufficientCredits: ("insufficient_quota", "insufficient_quota"),
    e.ModelPermissionDenied: ("invalid_request_error", "model_not_allowed"),
    e.MalformedRequest: ("invalid_request_error", "invalid_request_body"),
    e.InvalidParameter: ("invalid_request_error", "invalid_value"),
    e.TaskNotFound: ("invalid_request_error", "video_not_found"),
    e.PolicyRefused: ("invalid_request_error", "moderation_blocked"),
    e.RateLimited: ("requests", "rate_limit_exceeded"),
    e.TooManyConcurrentTasks: ("requests", "concurrency_limit_exceeded"),
    e.ServiceUnavailable: ("server_error", "service_unavailable"),
    e.InternalError: ("server_error", "internal_error"),
}


_FIELD_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]]*): ")


def error_body(exc: e.OpenklingError) -> dict[str, Any]:
    kind, code = "server_error", "internal_error"
    for cls in type(exc).__mro__:
        if cls in ERROR_KINDS:
            kind, code = ERROR_KINDS[cls]
            break
    param = exc.param
    if param is None and isinstance(exc, InvalidParameter):  # "field: what is allowed"
        match = _FIELD_PREFIX.match(exc.message)
        param = match.group(1) if match else None
    return {"error": {"message": exc.message, "type": kind, "param": param, "code": code}}


# ---- the OpenAPI document of the create and remix bodies -----------------------------------

_CREATE_FIELDS: dict[str, Any] = {
    "prompt": {"type": "string", "minLength": 1, "maxLength": MAX_PROMPT},
    "model": {"type": "string", "enum": list(OPENAI_MODELS), "default": "sora-2"},
    "seconds": {"type": "string", "enum": list(SECONDS), "default": "4"},
    "size": {"type": "string", "enum": list(SIZES), "default": "720x1280"},
}
CREATE_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {
                        **_CREATE_FIELDS,
                        "input_reference": {"type": "string", "format": "binary"},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {
                        **_CREATE_FIELDS,
                        "input_reference": {
                            "type": "object",
                            "properties": {"image_url": {"type": "string"}},
                        },
                    },
                }
            },
        },
    }
}
REMIX_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {"prompt": _CREATE_FIELDS["prompt"]},
                }
            }
        },
    }
}
