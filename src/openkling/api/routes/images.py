"""/v1/images/generations: create pictures from text (and a reference image), get, list, cancel.

A family of its own: an image task is found here only, and a video task never is.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...contract.kling.images import ImageGenerationRequest, parse_image_generation
from ...domain.request import Parsed
from ...domain.vocabulary import IMAGE_FAMILY
from ...net.image_fetch import image_loader
from ...runtime import Runtime
from ..context import ok
from ..create import create_task, read_json_with_images
from ..deps import BEARER_SECURITY, base_url_of
from ..openapi import TaskEnvelope, errors
from ..openapi import json_body as body_doc
from .task_reads import add_task_reads, present

router = APIRouter(prefix="/v1/images/generations", tags=[IMAGE_FAMILY])


def _parse(body: object, rt: Runtime) -> Parsed:
    return parse_image_generation(
        body, rt.catalog, image_loader(rt.settings), url_allow=rt.settings.url_allowlist
    )


@router.post(
    "",
    summary="Create an image generation task (n pictures, from text and a reference image)",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra={**body_doc(ImageGenerationRequest), "security": BEARER_SECURITY},
)
async def create(request: Request):
    task = await create_task(
        request,
        family=IMAGE_FAMILY,
        parse=_parse,
        read_body=read_json_with_images,
        blocking=True,  # a reference image may be decoded or fetched
    )
    return ok(present(request.app.state.runtime, task, base_url_of(request)), request)


add_task_reads(router, IMAGE_FAMILY)
