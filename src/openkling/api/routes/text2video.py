"""/v1/videos/text2video: create, get (by task id or external id), list, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...contract.kling import parse_text2video
from ...errors import OpenklingError, TokenInvalid
from ...tasks.group_commit import KeyChanged
from ..body import json_body
from ..context import ok
from ..deps import BEARER_SECURITY, account_of, base_url_of, cached_account_of, read
from ..openapi import TaskEnvelope, Text2VideoRequest, errors
from ..openapi import json_body as body_doc
from .task_reads import add_task_reads, present

router = APIRouter(prefix="/v1/videos/text2video", tags=["text2video"])


@router.post(
    "",
    summary="Create a text-to-video task",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra={**body_doc(Text2VideoRequest), "security": BEARER_SECURITY},
)
async def create(request: Request):
    # a hot route: it calls the dependencies' functions itself (solving them costs more than
    # their work) and waits for the group commit on the loop, holding no thread
    rt = request.app.state.runtime
    account = cached_account_of(request)  # its key is checked in the create's transaction
    checked = account is None
    if checked:
        account = await read(rt, account_of, request)  # on the loop only on SQLite
    try:
        body = await json_body(request, rt.settings.max_body_bytes)
        req = parse_text2video(body, rt.catalog, url_allow=rt.settings.url_allowlist)
        task = await rt.service.create_async(account, req, key_checked=checked)
    except KeyChanged:  # revoked or rotated since cached: the full check gives the answer
        rt.accounts.forget(account)
        await read(rt, account_of, request)
        raise TokenInvalid("API key is not valid") from None
    except OpenklingError:
        if not checked:  # a revoked key is answered 401 before anything else
            await read(rt, account_of, request)
        raise
    return ok(present(rt, task, base_url_of(request)), request)


add_task_reads(router, "text2video")
