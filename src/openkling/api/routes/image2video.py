"""/v1/videos/image2video: create (images checked and stored first), get, list, cancel."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...contract.kling.image2video import Image2VideoParse, parse_image2video
from ...errors import InvalidParameter, OutboundError
from ...media.images import MAX_IMAGE_BYTES, InputImage, read_image
from ...net import guard as netguard
from ...net.guard import check_url
from ...runtime import Runtime
from ..body import json_body
from ..context import ok
from ..deps import AccountDep, BaseUrlDep, RuntimeDep
from ..openapi import Image2VideoRequest, TaskEnvelope, errors
from ..openapi import json_body as body_doc
from .task_reads import add_task_reads, present

FAMILY = "image2video"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/jpg", "application/octet-stream")

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/videos/image2video", tags=["image2video"])


def _loader(rt: Runtime):
    """Read one image field: base64 decoded here, URLs fetched through the URL guard."""
    timeout = rt.settings.image_fetch_timeout_seconds
    allow = rt.settings.url_allowlist

    def fetch(field: str, url: str) -> bytes:
        check_url(url, field=field, allow=allow)  # literal addresses: refused before any I/O
        try:
            fetched = netguard.fetch(
                url,
                max_bytes=MAX_IMAGE_BYTES,
                timeout=timeout,
                content_types=IMAGE_TYPES,
                allow=allow,
            )
        except OutboundError as exc:  # refused or failed: its message is written for users
            raise InvalidParameter(f"{field}: {exc.message}") from None
        return fetched.content

    def load(field: str, value: str) -> InputImage:
        return read_image(value, field, fetch)

    return load


def _create(rt: Runtime, account, body: object):
    parsed: Image2VideoParse = parse_image2video(
        body, rt.catalog, _loader(rt), url_allow=rt.settings.url_allowlist
    )
    written: list[str] = []
    try:  # inputs are written only after every check passed, and removed if create fails
        for key, image in parsed.files.items():
            rt.storage.put_bytes(key, image.data, image.content_type)
            written.append(key)
        return rt.service.create(account, parsed.request, family=FAMILY)
    except BaseException:
        for key in written:
            try:
                rt.storage.delete(key)
            except Exception:  # the create's own error is the one to report
                log.exception("could not remove input %s of a refused request", key)
        raise


@router.post(
    "",
    summary="Create an image-to-video task",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra=body_doc(Image2VideoRequest),
)
async def create(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
    body = await json_body(request, rt.settings.image_body_bytes)
    task = await run_in_threadpool(_create, rt, account, body)
    return ok(present(rt, task, base_url), request)


add_task_reads(router, FAMILY)
