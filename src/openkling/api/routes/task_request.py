"""/v1/videos/text2video/{id}/request: the create body that makes a task again, with its seed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...tasks.present import request_body
from ..context import ok
from ..deps import AccountDep, RuntimeDep

router = APIRouter(tags=["text2video"])


@router.get(
    "/v1/videos/text2video/{task_id}/request",
    summary="The task's settings and seed as a create body (openkling extension)",
)
async def task_request(task_id: str, request: Request, rt: RuntimeDep, account: AccountDep):
    task = await run_in_threadpool(rt.service.get, account, task_id=task_id)
    return ok(request_body(task), request)
