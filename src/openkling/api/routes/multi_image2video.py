"""/v1/videos/multi-image2video: a video from 1 to 4 reference pictures; get, list, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...contract.kling.multi_image2video import parse_multi_image2video
from ...runtime import Runtime
from ..body import json_body
from ..context import ok
from ..deps import AccountDep, BaseUrlDep, RuntimeDep
from ..openapi import MultiImage2VideoRequest, TaskEnvelope, errors
from ..openapi import json_body as body_doc
from .image2video import _loader
from .inputs import create_with_inputs
from .task_reads import add_task_reads, present

FAMILY = "multi-image2video"

router = APIRouter(prefix="/v1/videos/multi-image2video", tags=["multi-image2video"])


def _create(rt: Runtime, account, body: object):
    parsed = parse_multi_image2video(
        body, rt.catalog, _loader(rt), url_allow=rt.settings.url_allowlist
    )
    return create_with_inputs(rt, account, parsed, family=FAMILY)


@router.post(
    "",
    summary="Create a video from 1 to 4 reference images",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra=body_doc(MultiImage2VideoRequest),
)
async def create(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
    body = await json_body(request, rt.settings.image_body_bytes)
    task = await run_in_threadpool(_create, rt, account, body)
    return ok(present(rt, task, base_url), request)


add_task_reads(router, FAMILY)
