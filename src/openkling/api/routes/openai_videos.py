"""/v1/videos: the OpenAI video API (create, list, get, delete, content, remix) over the tasks."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...contract import openai as oa
from ...domain.request import GenerationRequest, Parsed
from ...domain.result import TaskResult, VideoResult
from ...domain.status import TaskStatus
from ...domain.task import StoredTask
from ...errors import (
    InvalidParameter,
    MalformedRequest,
    ModelPermissionDenied,
    TaskNotFound,
)
from ...media.images import InputImage, check_image
from ...media.spritesheet import sprite_key
from ...net.image_fetch import image_loader
from ...runtime import Runtime
from ...tasks.accounts import Principal
from ..body import json_body as _json_body
from ..create import create_task
from ..deps import BEARER_SECURITY, AccountDep, RuntimeDep
from ..openapi import errors
from ..text import body_problem

log = logging.getLogger(__name__)


router = APIRouter(prefix="/v1/videos", tags=["openai"])

# OpenAI video ids are video_...: the routes say so in their paths, so that no other name
# under /v1/videos (Kling's, api/doors.py) is ever taken for a video id
VideoIdTail = Annotated[
    str,
    Path(alias="id", min_length=1, description="the video id after video_ (the id is video_{id})"),
]


# Parts of OpenAI's video API that openkling does not offer: a clear 404 rather than a 405
# from the routes below that share their paths.
NOT_OFFERED = {
    ("POST", "/edits"): "video edits",
    ("POST", "/extensions"): "video extensions",
    ("POST", "/characters"): "characters",
    ("GET", "/characters/{character_id}"): "characters",
}


def _not_offered(what: str):
    async def endpoint(request: Request):
        raise StarletteHTTPException(
            404, f"openkling does not offer {what} ({request.method} {request.url.path})"
        )

    return endpoint


for (_method, _path), _what in NOT_OFFERED.items():
    router.add_api_route(_path, _not_offered(_what), methods=[_method], include_in_schema=False)


def _targets(rt: Runtime) -> dict[str, oa.ModelTarget]:
    return oa.model_targets(rt.settings.openai_model_map, rt.catalog)


def _video(rt: Runtime, task: StoredTask, *, queued: bool = False) -> dict[str, Any]:
    """The video object; ``queued``: with its place in line while it waits (a store read)."""
    queue = rt.service.queue.of(task) if queued else None
    return oa.video_object(task, _targets(rt), queue)


def _polled(rt: Runtime, body: dict) -> JSONResponse:
    """A GET answer: the SDK's poll helper waits as long as ``openai-poll-after-ms`` says."""
    return JSONResponse(
        body, headers={"openai-poll-after-ms": str(rt.settings.openai_poll_after_ms)}
    )


async def _capped_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise MalformedRequest(f"request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise MalformedRequest(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _form_body(request: Request, limit: int) -> oa.FormFields:
    """The fields of a multipart (or url-encoded) form, files as ``Upload``; at most ``limit``
    bytes are read, and the parts are parsed from memory."""
    raw = await _capped_body(request, limit)
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(
            max_files=1, max_fields=len(oa.KNOWN_FIELDS) + 2, max_part_size=limit
        )
    except Exception:  # MultiPartException and the parser's own errors
        raise MalformedRequest(
            "request body is not a valid multipart form (the fields prompt, model, seconds, "
            "size and at most one file, input_reference)"
        ) from None
    fields = oa.FormFields()
    try:
        for key, value in form.multi_items():
            if key in fields:
                raise InvalidParameter(f"{key}: is given more than once", param=key)
            if isinstance(value, UploadFile):
                data = await value.read()
                fields[key] = oa.Upload(data, value.content_type or "", value.filename or "")
            else:
                problem = body_problem(value, key) or body_problem({key: ""})
                if problem is not None:  # NUL and the like (api/text.py)
                    raise InvalidParameter(problem, param=key)
                fields[key] = value
    finally:
        await form.close()
    return fields


async def _create_body(request: Request, rt: Runtime) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _form_body(request, rt.settings.openai_max_upload_bytes)
    if content_type in ("application/json", ""):
        return await _json_body(request, rt.settings.image_body_bytes)
    raise MalformedRequest(
        f"content type {content_type!r} is not accepted; send multipart/form-data or "
        "application/json"
    )


def _parse_create(body: Any, rt: Runtime) -> Parsed:
    return oa.parse_video_create(
        body,
        _targets(rt),
        rt.catalog,
        image_loader(rt.settings),
        exact_size=rt.settings.openai_exact_size,
    )


@router.post(
    "",
    summary="Create a video (OpenAI)",
    responses=errors(403, 429),
    openapi_extra={**oa.CREATE_BODY_DOC, "security": BEARER_SECURITY},
)
async def create(request: Request):
    rt: Runtime = request.app.state.runtime
    parsed: list[GenerationRequest] = []

    def parse(body: Any, rt: Runtime) -> Parsed:
        result = _parse_create(body, rt)
        parsed.append(result.request)
        return result

    try:
        task = await create_task(
            request, family=oa.FAMILY, parse=parse, read_body=_create_body, blocking=True
        )
    except ModelPermissionDenied:
        raise _permission_denied(parsed[0]) from None
    return JSONResponse(_video(rt, task))


def _permission_denied(req: GenerationRequest) -> ModelPermissionDenied:
    """The service's refusal, in the OpenAI door's words: its model names the field."""
    openai_model = req.wire.get("model", req.model_name)
    return ModelPermissionDenied(
        f"model: this key may not use '{openai_model}' (served by {req.model_name})",
        param="model",
    )


@router.get("", summary="List videos (OpenAI)", responses=errors(404))
def list_videos(request: Request, rt: RuntimeDep, account: AccountDep):
    query = oa.parse_list_query(request.query_params)
    rows, has_more = rt.service.page(
        account,
        family=oa.FAMILY,
        after=query.after,
        limit=query.limit,
        ascending=query.order == "asc",
    )
    videos = [_video(rt, row, queued=True) for row in rows]
    return _polled(rt, oa.list_object(videos, has_more))


def _task(rt: Runtime, account: Principal, video_id: str) -> StoredTask:
    task_id = oa.task_id_of(video_id)
    try:
        return rt.service.get(account, task_id=task_id, family=oa.FAMILY)
    except TaskNotFound:
        raise TaskNotFound(f"video '{video_id}' does not exist", param="video_id") from None


@router.get("/video_{id}", summary="Get a video (OpenAI)", responses=errors(404))
def get_video(tail: VideoIdTail, rt: RuntimeDep, account: AccountDep):
    video_id = oa.video_id_of(tail)
    return _polled(rt, _video(rt, _task(rt, account, video_id), queued=True))


def _videos(task: StoredTask) -> list[VideoResult]:
    return TaskResult.model_validate(task.result).videos if task.result else []


@router.delete(
    "/video_{id}",
    summary="Delete a video and its files (OpenAI)",
    responses=errors(404),
)
def delete_video(tail: VideoIdTail, rt: RuntimeDep, account: AccountDep):
    video_id = oa.video_id_of(tail)
    task = _task(rt, account, video_id)
    if not task.finished:
        raise InvalidParameter(
            f"video '{video_id}' is {oa.STATUSES[task.status]}; only a completed or failed video "
            "can be deleted",
            param="video_id",
        )
    sprites = tuple(sprite_key(v.key) for v in _videos(task))
    try:
        rt.service.delete(account, task.id, family=oa.FAMILY, also=sprites)
    except TaskNotFound:
        raise TaskNotFound(f"video '{video_id}' does not exist", param="video_id") from None
    return JSONResponse(oa.deleted_object(video_id))


@router.get(
    "/video_{id}/content",
    summary="Download a video, thumbnail or spritesheet (OpenAI)",
    responses=errors(404),
)
def content(tail: VideoIdTail, request: Request, rt: RuntimeDep, account: AccountDep):
    video_id = oa.video_id_of(tail)
    variant = oa.parse_variant(request.query_params)
    task = _task(rt, account, video_id)
    videos = _videos(task) if task.status == TaskStatus.SUCCEED else []
    if not videos:
        raise InvalidParameter(
            f"video '{video_id}' is {oa.STATUSES[task.status]}; its content can "
            "be downloaded once it is completed",
            param="video_id",
        )
    video = videos[0]
    media_type = oa.VARIANTS[variant]
    try:
        if variant == "video":
            return _stored(rt, video.key, media_type)
        if variant == "thumbnail":
            if not video.cover_key:
                raise FileNotFoundError(video.id)
            return _stored(rt, video.cover_key, media_type)
        sheet = rt.service.spritesheet(account, task.id, family=oa.FAMILY, video_key=video.key)
        return Response(sheet, media_type=media_type)
    except FileNotFoundError:
        raise TaskNotFound(
            f"the {variant} of video '{video_id}' is no longer stored", param="variant"
        ) from None


def _stored(rt: Runtime, key: str, media_type: str) -> Response:
    """A stored file: streamed from disk when the storage is local, else read whole."""
    path = rt.storage.local_path(key)
    if path is None:
        return Response(rt.storage.read(key), media_type=media_type)
    return FileResponse(path, media_type=media_type)


@router.post(
    "/video_{id}/remix",
    summary="Remix a completed video with a new prompt (OpenAI)",
    responses=errors(403, 404, 429),
    openapi_extra=oa.REMIX_BODY_DOC,
)
async def remix(tail: VideoIdTail, request: Request, rt: RuntimeDep, account: AccountDep):
    video_id = oa.video_id_of(tail)
    body = await _json_body(request, rt.settings.max_body_bytes)
    prompt = oa.parse_remix(body)
    source = await run_in_threadpool(_task, rt, account, video_id)
    if source.status != TaskStatus.SUCCEED:
        status = oa.STATUSES[source.status]
        raise InvalidParameter(
            f"video '{video_id}' is {status}; only a completed video can be remixed",
            param="video_id",
        )
    base = GenerationRequest.model_validate(source.request)
    if rt.catalog.get(base.model_name) is None:
        raise InvalidParameter(
            f"video '{video_id}' was made by {base.model_name}, which this server no longer "
            "serves; it cannot be remixed",
            param="video_id",
        )
    req = oa.remix_request(base, prompt, source.seed, source.id)
    req, inputs = await run_in_threadpool(_remix_inputs, rt, req)
    try:
        task = await rt.service.submit_async(account, req, inputs, family=oa.FAMILY)
    except ModelPermissionDenied:
        raise _permission_denied(req) from None
    return JSONResponse(_video(rt, task))


def _remix_inputs(
    rt: Runtime, req: GenerationRequest
) -> tuple[GenerationRequest, dict[str, InputImage]]:
    """The remix keeps its own copy of the source's image, under a key of its own: deleting
    the source leaves it whole."""
    if req.image is None:
        return req, {}
    try:
        image = check_image(rt.storage.read(req.image.key), oa.REFERENCE)
    except FileNotFoundError:
        raise InvalidParameter(
            "video_id: the source video's input_reference is no longer stored", param="video_id"
        ) from None
    stored, inputs = oa.stored_reference(image)
    return req.model_copy(update={"image": stored}), inputs
