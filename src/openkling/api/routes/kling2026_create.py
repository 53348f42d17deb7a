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
from ...errors import InvalidParameter, OutboundError
from ...media.images import MAX_IMAGE_BYTES, InputImage, read_image
from ...net import guard as netguard
from ...net.guard import check_url
from ...runtime import Runtime
from ..context import ok
from ..create import create_task
from ..deps import BEARER_SECURITY
from ..openapi import errors
from ..openapi import json_body as body_doc
from .kling2026_tasks import CreatedEnvelope

IMAGE_TYPES = ("image/jpeg", "image/png", "image/jpg", "application/octet-stream")

router = APIRouter(tags=["kling 2026"])


def image_loader(rt: Runtime):
    """Read one image field: base64 decoded here, URLs fetched through the URL guard."""
    timeout = rt.settings.image_fetch_timeout_seconds
    allow = rt.settings.url_allowlist

    def fetch(field: str, url: str) -> bytes:
        check_url(url, field=field, allow=allow)  # literal addresses: refused before any I/O
        try:
            fetched = netguard.fetch(
                url, max_bytes=MAX_IMAGE_BYTES, timeout=timeout, content_types=IMAGE_TYPES,
                allow=allow,
            )  # fmt: skip
        except OutboundError as exc:  # refused or failed: its message is written for users
            raise InvalidParameter(f"{field}: {exc.message}") from None
        return fetched.content

    def load(field: str, value: str) -> InputImage:
        return read_image(value, field, fetch)

    return load


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

    task = await create_task(request, family="text-to-video", parse=parse)
    return ok(created_record(task), request)


@router.post(
    "/image-to-video/{model}", **_doc(ImageToVideoRequest, "Create an image-to-video task")
)
async def image_to_video(model: str, request: Request):
    def parse(body, rt: Runtime):
        return parse_image_to_video(
            body, model, rt.catalog, image_loader(rt), url_allow=rt.settings.url_allowlist
        )

    rt = request.app.state.runtime
    task = await create_task(
        request,
        family="image-to-video",
        parse=parse,
        body_limit=rt.settings.image_body_bytes,
        blocking=True,  # it may fetch image URLs
    )
    return ok(created_record(task), request)


@router.post("/omni-video/{model}", **_doc(OmniVideoRequest, "Create an omni-video task"))
async def omni_video(model: str, request: Request):
    def parse(body, rt: Runtime):
        return parse_omni_video(
            body, model, rt.catalog, image_loader(rt), url_allow=rt.settings.url_allowlist
        )

    rt = request.app.state.runtime
    task = await create_task(
        request,
        family="omni-video",
        parse=parse,
        body_limit=rt.settings.image_body_bytes,
        blocking=True,
    )
    return ok(created_record(task), request)
