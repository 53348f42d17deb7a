"""/v1/videos/image2video: create (images checked, then stored with the task), get, list, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...contract.kling.image2video import Image2VideoRequest, parse_image2video
from ...domain.request import Parsed
from ...net.image_fetch import image_loader
from ...runtime import Runtime
from ..context import ok
from ..create import create_task, read_json_with_images
from ..deps import BEARER_SECURITY, base_url_of
from ..openapi import TaskEnvelope, errors
from ..openapi import json_body as body_doc
from .task_reads import add_task_reads, present

FAMILY = "image2video"
router = APIRouter(prefix="/v1/videos/image2video", tags=["image2video"])


def _parse(body: object, rt: Runtime) -> Parsed:
    return parse_image2video(
        body, rt.catalog, image_loader(rt.settings), url_allow=rt.settings.url_allowlist
    )


@router.post(
    "",
    summary="Create an image-to-video task",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra={**body_doc(Image2VideoRequest), "security": BEARER_SECURITY},
)
async def create(request: Request):
    task = await create_task(
        request, family=FAMILY, parse=_parse, read_body=read_json_with_images, blocking=True
    )
    return ok(present(request.app.state.runtime, task, base_url_of(request)), request)


add_task_reads(router, FAMILY)
