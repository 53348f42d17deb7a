"""/v1/videos/text2video: create, get (by task id or external id), list, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...contract.kling.text2video import Text2VideoRequest, parse_text2video
from ...domain.request import Parsed
from ...runtime import Runtime
from ..context import ok
from ..create import create_task
from ..deps import BEARER_SECURITY, base_url_of
from ..openapi import TaskEnvelope, errors
from ..openapi import json_body as body_doc
from .task_reads import add_task_reads, present

FAMILY = "text2video"
router = APIRouter(prefix="/v1/videos/text2video", tags=["text2video"])


def _parse(body: object, rt: Runtime) -> Parsed:
    return Parsed(parse_text2video(body, rt.catalog, url_allow=rt.settings.url_allowlist))


@router.post(
    "",
    summary="Create a text-to-video task",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra={**body_doc(Text2VideoRequest), "security": BEARER_SECURITY},
)
async def create(request: Request):
    task = await create_task(request, family=FAMILY, parse=_parse)
    return ok(present(request.app.state.runtime, task, base_url_of(request)), request)


add_task_reads(router, FAMILY)
