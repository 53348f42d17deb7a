"""/v1/videos/multi-image2video: a video from 1 to 4 reference pictures; get, list, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...contract.kling.multi_image2video import MultiImage2VideoRequest, parse_multi_image2video
from ...domain.request import Parsed
from ...net.image_fetch import image_loader
from ...runtime import Runtime
from ..context import ok
from ..create import create_task, read_json_with_images
from ..deps import BEARER_SECURITY, base_url_of
from ..openapi import TaskEnvelope, errors
from ..openapi import json_body as body_doc
from .task_reads import add_task_reads, present

FAMILY = "multi-image2video"

router = APIRouter(prefix="/v1/videos/multi-image2video", tags=["multi-image2video"])


def _parse(body: object, rt: Runtime) -> Parsed:
    return parse_multi_image2video(
        body, rt.catalog, image_loader(rt.settings), url_allow=rt.settings.url_allowlist
    )


@router.post(
    "",
    summary="Create a video from 1 to 4 reference images",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra={**body_doc(MultiImage2VideoRequest), "security": BEARER_SECURITY},
)
async def create(request: Request):
    task = await create_task(
        request, family=FAMILY, parse=_parse, read_body=read_json_with_images, blocking=True
    )
    return ok(present(request.app.state.runtime, task, base_url_of(request)), request)


add_task_reads(router, FAMILY)
