"""Kling's 2026 create endpoints: POST /text-to-video/{model}, /image-to-video/{model} and
/omni-video/{model}, each a parse onto the one create path."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...contract.kling2026 import (
    ImageToVideoRequest,
    OmniVideoRequest,
    TextToVideoRequest,
    created_record,
    parse_image_to_video,
    parse_omni_video,
    parse_text_to_video,
)
from ...errors import InvalidParameter
from ...net.image_fetch import image_loader
from ...runtime import Runtime
from ..context import ok
from ..create import create_task, read_json_with_images
from ..deps import BEARER_SECURITY
from ..openapi import errors
from ..openapi import json_body as body_doc
from .kling2026_tasks import CreatedEnvelope

router = APIRouter(tags=["kling 2026"])


async def _create(request: Request, **kwargs):
    """``create_task``, with the store's refusal of a used external id named as this API
    names the field (``options.external_task_id``)."""
    try:
        return await create_task(request, **kwargs)
    except InvalidParameter as exc:
        if exc.message.startswith("external_task_id:"):
            raise InvalidParameter("options." + exc.message, param=exc.param) from None
        raise


def _doc(model, summary: str) -> dict:
    return {
        "summary": summary,
        "response_model": CreatedEnvelope,
        "responses": errors(402, 403, 429),
        "openapi_extra": {**body_doc(model), "security": BEARER_SECURITY},
    }


@router.post("/text-to-video/{model}", **_doc(TextToVideoRequest, "Create a text-to-video task"))
async def text_to_video(model: str, request: Request):
    def parse(body, rt: Runtime):
        allow = rt.settings.url_allowlist
        return parse_text_to_video(body, model, rt.catalog, url_allow=allow)

    task = await _create(request, family="text-to-video", parse=parse)
    return ok(created_record(task), request)


@router.post(
    "/image-to-video/{model}", **_doc(ImageToVideoRequest, "Create an image-to-video task")
)
async def image_to_video(model: str, request: Request):
    def parse(body, rt: Runtime):
        return parse_image_to_video(
            body, model, rt.catalog, image_loader(rt.settings), url_allow=rt.settings.url_allowlist
        )

    task = await _create(
        request,
        family="image-to-video",
        parse=parse,
        read_body=read_json_with_images,
        blocking=True,  # it may fetch image URLs
    )
    return ok(created_record(task), request)


@router.post("/omni-video/{model}", **_doc(OmniVideoRequest, "Create an omni-video task"))
async def omni_video(model: str, request: Request):
    def parse(body, rt: Runtime):
        return parse_omni_video(
            body, model, rt.catalog, image_loader(rt.settings), url_allow=rt.settings.url_allowlist
        )

    task = await _create(
        request,
        family="omni-video",
        parse=parse,
        read_body=read_json_with_images,
        blocking=True,  # it may fetch image URLs
    )
    return ok(created_record(task), request)
