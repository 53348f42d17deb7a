"""/v1/videos/video-extend: continue a finished video; get, list, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...contract.kling.video_extend import VideoExtendRequest, parse_video_extend
from ...domain.request import Parsed
from ...runtime import Runtime
from ...tasks.accounts import Principal
from ..context import ok
from ..create import create_task
from ..deps import BEARER_SECURITY, base_url_of
from ..openapi import TaskEnvelope, errors
from ..openapi import json_body as body_doc
from .task_reads import add_task_reads, present

FAMILY = "video-extend"

router = APIRouter(prefix="/v1/videos/video-extend", tags=["video-extend"])


def _parse(body: object, rt: Runtime, account: Principal) -> Parsed:
    request = parse_video_extend(
        body,
        lambda video_id: rt.service.video_owner(account, video_id),
        catalog=rt.catalog,
        url_allow=rt.settings.url_allowlist,
    )
    return Parsed(request)


@router.post(
    "",
    summary="Extend a finished video by 5 seconds (the result is the whole video)",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra={**body_doc(VideoExtendRequest), "security": BEARER_SECURITY},
)
async def create(request: Request):
    task = await create_task(request, family=FAMILY, parse_for=_parse)
    return ok(present(request.app.state.runtime, task, base_url_of(request)), request)


add_task_reads(router, FAMILY)
