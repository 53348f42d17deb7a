"""The OpenAPI document: Kling's request and response models, the bearer scheme, and every
error status each operation can answer, each with its envelope.

The routes parse requests themselves (Kling's messages, Kling's codes), so the models here
describe the wire; they validate nothing. ``describe`` finishes the document for every route,
including routes added later: security and 401 where a route authenticates, and the errors any
request can meet (400 Host / body, 408 slow client, 500, 503), in place of FastAPI's 422,
which openkling never sends.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from ..contract.kling import MAX_EXTERNAL_ID, MAX_PROMPT, MAX_URL, TaskPublic
from ..contract.kling.costs import MAX_NAME as MAX_PACK_NAME
from ..domain.vocabulary import ASPECT_RATIOS, CAMERA_TYPES, MODE_ALIASES, MODEL_NAMES
from .errors import HTTP_STATUS, shape_for

REF = "#/components/schemas/{model}"


# ---- request ---------------------------------------------------------------------------------


class CameraConfig(BaseModel):
    horizontal: float = Field(0, ge=-10, le=10)
    vertical: float = Field(0, ge=-10, le=10)
    pan: float = Field(0, ge=-10, le=10)
    tilt: float = Field(0, ge=-10, le=10)
    roll: float = Field(0, ge=-10, le=10)
    zoom: float = Field(0, ge=-10, le=10)


class CameraControl(BaseModel):
    type: Literal[CAMERA_TYPES]  # type: ignore[valid-type]
    config: CameraConfig | None = Field(None, description="with type 'simple' only")


class ShotPrompt(BaseModel):
    index: int
    prompt: str = Field(..., min_length=1, max_length=512)
    duration: str | int = Field(..., description="whole seconds")


class WatermarkInfo(BaseModel):
    enabled: bool = False


class Text2VideoRequest(BaseModel):
    """The body of ``POST /v1/videos/text2video``. Fields Kling does not know are ignored."""

    model_name: Literal[MODEL_NAMES] = Field(  # type: ignore[valid-type]
        "kling-v1", description="the deployment's catalog decides which are offered"
    )
    prompt: str = Field(..., min_length=1, max_length=MAX_PROMPT)
    negative_prompt: str = Field("", max_length=MAX_PROMPT)
    duration: str | int = Field(
        "5", description='seconds: "5" or "10" (kling-v3: "3" to "15"); numbers too'
    )
    aspect_ratio: Literal[ASPECT_RATIOS] = "16:9"  # type: ignore[valid-type]
    mode: Literal[tuple(MODE_ALIASES)] = "std"  # type: ignore[valid-type]
    cfg_scale: float = Field(0.5, ge=0, le=1)
    camera_control: CameraControl | None = None
    sound: Literal["on", "off"] = Field("off", description="models with audio only")
    motion_has_audio: bool = Field(False, description="the same switch as sound")
    callback_url: str | None = Field(
        None, max_length=MAX_URL, description="http(s) URL on a public host"
    )
    external_task_id: str | None = Field(
        None, max_length=MAX_EXTERNAL_ID, description="unique per account"
    )
    multi_shot: bool = Field(False, description="models with multi-shot only (kling-v3)")
    shot_type: Literal["customize", "intelligence"] | None = Field(
        None, description="required with multi_shot: true"
    )
    multi_prompt: list[ShotPrompt] | None = Field(
        None, max_length=6, description="with shot_type customize; durations add up to duration"
    )
    watermark_info: WatermarkInfo | None = Field(
        None, description="enabled: each video also gets a watermark_url"
    )


class Point(BaseModel):
    x: float
    y: float


class DynamicMaskDoc(BaseModel):
    mask: str = Field(..., description="an image, as for image")
    trajectories: list[Point] = Field(..., min_length=2, max_length=77)


class Image2VideoRequest(BaseModel):
    """The body of ``POST /v1/videos/image2video``. Fields Kling does not know are ignored."""

    model_name: Literal[MODEL_NAMES] = Field(  # type: ignore[valid-type]
        "kling-v1", description="the deployment's catalog decides which are offered"
    )
    image: str | None = Field(
        None, description="raw base64 (no data: prefix) or an http(s) URL; JPG or PNG"
    )
    image_tail: str | None = Field(None, description="the last frame; as image")
    prompt: str = Field("", max_length=MAX_PROMPT)
    negative_prompt: str = Field("", max_length=MAX_PROMPT)
    duration: str | int = Field(
        "5", description='seconds: "5" or "10" (kling-v3: "3" to "15"); numbers too'
    )
    mode: Literal[tuple(MODE_ALIASES)] = "std"  # type: ignore[valid-type]
    cfg_scale: float = Field(0.5, ge=0, le=1)
    camera_control: CameraControl | None = None
    static_mask: str | None = Field(None, description="an image, as for image")
    dynamic_masks: list[DynamicMaskDoc] | None = Field(None, max_length=6)
    sound: Literal["on", "off"] = Field("off", description="models with audio only")
    motion_has_audio: bool = Field(False, description="the same switch as sound")
    callback_url: str | None = Field(
        None, max_length=MAX_URL, description="http(s) URL on a public host"
    )
    external_task_id: str | None = Field(
        None, max_length=MAX_EXTERNAL_ID, description="unique per account"
    )
    watermark_info: WatermarkInfo | None = Field(
        None, description="enabled: each video also gets a watermark_url"
    )


class VideoExtendRequest(BaseModel):
    """The body of ``POST /v1/videos/video-extend``: 5 more seconds of a finished video."""

    video_id: str = Field(
        ..., max_length=128, description="a video of a succeeded task of yours, any video door"
    )
    prompt: str = Field("", max_length=MAX_PROMPT, description="default: the parent's prompt")
    negative_prompt: str = Field("", max_length=MAX_PROMPT)
    cfg_scale: float = Field(0.5, ge=0, le=1)
    callback_url: str | None = Field(
        None, max_length=MAX_URL, description="http(s) URL on a public host"
    )
    external_task_id: str | None = Field(
        None, max_length=MAX_EXTERNAL_ID, description="unique per account"
    )


class ImageItem(BaseModel):
    image: str = Field(..., description="raw base64 (no data: prefix) or an http(s) URL")


class MultiImage2VideoRequest(BaseModel):
    """The body of ``POST /v1/videos/multi-image2video``: 1 to 4 reference pictures."""

    model_name: Literal[MODEL_NAMES] = Field(  # type: ignore[valid-type]
        "kling-v1-6", description="models whose profile offers reference images"
    )
    image_list: list[ImageItem] = Field(..., min_length=1, max_length=4)
    prompt: str = Field(..., min_length=1, max_length=MAX_PROMPT)
    negative_prompt: str = Field("", max_length=MAX_PROMPT)
    mode: Literal[tuple(MODE_ALIASES)] = "std"  # type: ignore[valid-type]
    duration: str | int = Field("5", description='seconds: "5" or "10"')
    aspect_ratio: Literal[ASPECT_RATIOS] = "16:9"  # type: ignore[valid-type]
    callback_url: str | None = Field(
        None, max_length=MAX_URL, description="http(s) URL on a public host"
    )
    external_task_id: str | None = Field(
        None, max_length=MAX_EXTERNAL_ID, description="unique per account"
    )


class EffectInput(BaseModel):
    image: str | None = Field(None, description="single-image scenes: one picture")
    images: list[str] | None = Field(
        None, min_length=2, max_length=2, description="dual-image scenes: left, then right"
    )


class EffectsRequest(BaseModel):
    """The body of ``POST /v1/videos/effects``; ``GET /v1/effects`` lists the scenes."""

    effect_scene: str = Field(..., description="e.g. zoom_out, day_to_night, hug_pro")
    input: EffectInput
    callback_url: str | None = Field(
        None, max_length=MAX_URL, description="http(s) URL on a public host"
    )
    external_task_id: str | None = Field(
        None, max_length=MAX_EXTERNAL_ID, description="unique per account"
    )


# ---- responses -------------------------------------------------------------------------------


class ErrorEnvelope(BaseModel):
    """Every Kling error: no ``data``."""

    model_config = ConfigDict(extra="forbid")
    code: int = Field(..., description="Kling error code (README, error table)")
    message: str
    request_id: str


class _Success(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Literal[0]
    message: Literal["SUCCEED"]
    request_id: str


class TaskEnvelope(_Success):
    data: TaskPublic


class TaskListEnvelope(_Success):
    data: list[TaskPublic]


class ResourcePack(BaseModel):
    resource_pack_name: str
    resource_pack_id: str
    resource_pack_type: str
    total_quantity: float
    remaining_quantity: float
    purchase_time: int
    effective_time: int
    invalid_time: int
    status: str


class Costs(BaseModel):
    code: int
    msg: str
    balance: float = Field(..., description="remaining credits (beyond Kling)")
    resource_pack_subscribe_infos: list[ResourcePack]


class CostsEnvelope(_Success):
    data: Costs


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ok"]


class Readiness(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "error"]]


# ---- parameters and per-route errors -----------------------------------------------------


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


EXTERNAL_ID = query(
    "external_task_id",
    {"type": "string", "maxLength": MAX_EXTERNAL_ID},
    "the caller's own id of a task (instead of the task id)",
)
COSTS = [
    query("start_time", {"type": "integer"}, "packs in force at or after this time (ms)"),
    query("end_time", {"type": "integer"}, "packs in force at or before this time (ms)"),
    query(
        "resource_pack_name",
        {"type": "string", "maxLength": MAX_PACK_NAME},
        "packs whose name contains this (any case)",
    ),
]
PAGING = [
    query("pageNum", {"type": "integer", "minimum": 1, "maximum": 1000}, "page, from 1"),
    query("pageSize", {"type": "integer", "minimum": 1, "maximum": 500}, "tasks per page"),
]


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads this JSON body itself."""
    ref = {"$ref": REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses`` for statuses a route answers beyond the ones every route can."""
    return {status: {"model": ErrorEnvelope, "description": _WHY[status]} for status in statuses}


_WHY = {
    400: "malformed request, invalid parameter, Host not served, body too large (1200, 1201, 1301)",
    401: "authentication failed (1000-1004)",
    402: "not enough credits (1102)",
    403: "no permission (1103), or a media URL that is invalid or expired (1000)",
    404: "no such task or file (1203)",
    405: "method not allowed (1202); the Allow header lists the methods",
    408: "the request's headers or body did not arrive in time (1200)",
    429: "rate limit (1302) or too many unfinished tasks (1303)",
    500: "internal error (5000)",
    503: "maintenance, shutting down, or too many open connections (5001)",
}
EVERY_ROUTE = (400, 408, 500, 503)
DOC_MODELS = (
    Text2VideoRequest,
    Image2VideoRequest,
    VideoExtendRequest,
    MultiImage2VideoRequest,
    EffectsRequest,
)


# ---- the document --------------------------------------------------------------------------


def describe(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, finished as the module docstring says; cached on the app."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (*DOC_MODELS, ErrorEnvelope):
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    assert set(HTTP_STATUS.values()) <= set(_WHY), "a status in api/errors.py is undocumented"
    for path, item in doc.get("paths", {}).items():
        error_ref = _error_schema(path, schemas)
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            wanted = EVERY_ROUTE + ((401,) if operation.get("security") else ())
            for status in wanted:
                responses.setdefault(str(status), _error_response(status, error_ref))
            for status, response in responses.items():
                if status.startswith(("4", "5")):  # every error is in the door's shape
                    response["content"] = {"application/json": {"schema": error_ref}}
    app.openapi_schema = doc
    return doc


def _error_schema(path: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """The error body of the door serving ``path`` (api/errors.py, ERROR_SHAPES)."""
    shape = shape_for(path)
    if shape is None:
        return {"$ref": REF.format(model="ErrorEnvelope")}
    schema = shape.model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[shape.model.__name__] = schema
    return {"$ref": REF.format(model=shape.model.__name__)}


def _error_response(status: int, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": _WHY[status], "content": {"application/json": {"schema": schema}}}


def install(app: FastAPI) -> None:
    app.openapi = lambda: describe(app)  # type: ignore[method-assign]
