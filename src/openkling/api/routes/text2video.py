"""/v1/videos/text2video: create, get (by task id or external id), list, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...contract import parse_text2video
from ..body import json_body
from ..context import ok
from ..deps import AccountDep, BaseUrlDep, RuntimeDep
from ..openapi import TaskEnvelope, Text2VideoRequest, errors
from ..openapi import json_body as body_doc
from .task_reads import add_task_reads, present

router = APIRouter(prefix="/v1/videos/text2video", tags=["text2video"])


@router.post(
    "",
    summary="Create a text-to-video task",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra=body_doc(Text2VideoRequest),
)
async def create(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
    body = await json_body(request, rt.settings.max_body_bytes)
    req = parse_text2video(body, rt.catalog, url_allow=rt.settings.url_allowlist)
    task = await run_in_threadpool(rt.service.create, account, req)
    return ok(present(rt, task, base_url), request)


add_task_reads(router, "text2video")
