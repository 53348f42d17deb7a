"""/media/{key}: result files behind signed, expiring URLs (no Authorization header)."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ...errors import MediaLinkInvalid, MediaNotFound
from ..deps import RuntimeDep
from ..openapi import errors

router = APIRouter(tags=["media"])


FILE = {"schema": {"type": "string", "format": "binary"}}
SIGNED = [
    {"name": n, "in": "query", "required": True, "schema": {"type": "string"}}
    for n in ("expires", "signature")
]


@router.get(
    "/media/{key:path}",
    summary="Download a result file",
    response_class=FileResponse,
    responses={
        200: {"description": "the file", "content": {"video/mp4": FILE, "image/jpeg": FILE}},
        **errors(403, 404),
    },
    openapi_extra={"parameters": SIGNED},
)
def media(key: str, request: Request, rt: RuntimeDep):
    query = request.query_params
    if not rt.storage.verify(key, query.get("expires", ""), query.get("signature", "")):
        raise MediaLinkInvalid()
    path = rt.storage.local_path(key)
    if path is None:
        raise MediaNotFound()
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type)
