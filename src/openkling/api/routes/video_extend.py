"""/v1/videos/video-extend: continue a finished video; get, list, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...contract.kling.video_extend import parse_video_extend
from ...runtime import Runtime
from ..body import json_body
from ..context import ok
from ..deps import AccountDep, BaseUrlDep, RuntimeDep
from ..openapi import TaskEnvelope, VideoExtendRequest, errors
from ..openapi import json_body as body_doc
from .task_reads import add_task_reads, present

FAMILY = "video-extend"

router = APIRouter(prefix="/v1/videos/video-extend", tags=["video-extend"])


def _create(rt: Runtime, account, body: object):
    request = parse_video_extend(
        body,
        lambda video_id: rt.service.video_owner(account, video_id),
        url_allow=rt.settings.url_allowlist,
    )
    return rt.service.create(account, request, family=FAMILY)


@router.post(
    "",
    summary="Extend a finished video by 5 seconds (the result is the whole video)",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra=body_doc(VideoExtendRequest),
)
async def create(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
    body = await json_body(request, rt.settings.max_body_bytes)
    task = await run_in_threadpool(_create, rt, account, body)
    return ok(present(rt, task, base_url), request)


add_task_reads(router, FAMILY)
