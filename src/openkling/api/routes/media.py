"""/media/{key}: result files behind signed, expiring URLs (no Authorization header)."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from ...contract import failure
from ..context import request_id_of
from ..deps import RuntimeDep

router = APIRouter(tags=["media"])


@router.get("/media/{key:path}", summary="Download a result file")
def media(key: str, request: Request, rt: RuntimeDep):
    storage = rt.storage
    expires = request.query_params.get("expires", "")
    signature = request.query_params.get("signature", "")
    verify = getattr(storage, "verify", None)
    if verify is None or not expires.isdigit() or not verify(key, int(expires), signature):
        return JSONResponse(
            failure(1000, "media URL is invalid or has expired", request_id_of(request)),
            status_code=403,
        )
    try:
        path = storage.path(key)
    except ValueError:
        path = None
    if path is None or not path.is_file():
        return JSONResponse(
            failure(1203, "file does not exist", request_id_of(request)), status_code=404
        )
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type)
