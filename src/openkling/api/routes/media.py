"""/media/{key}: result files behind signed, expiring URLs (no Authorization header)."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ...errors import MediaLinkInvalid, MediaNotFound
from ..deps import RuntimeDep

router = APIRouter(tags=["media"])


@router.get("/media/{key:path}", summary="Download a result file")
def media(key: str, request: Request, rt: RuntimeDep):
    query = request.query_params
    if not rt.storage.verify(key, query.get("expires", ""), query.get("signature", "")):
        raise MediaLinkInvalid()
    path = rt.storage.local_path(key)
    if path is None:
        raise MediaNotFound()
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type)
