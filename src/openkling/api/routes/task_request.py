"""/v1/videos/{family}/{id}/request: the create body that makes a task again, with its seed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...contract.kling.present import request_body
from ...domain.vocabulary import FAMILIES
from ..context import ok
from ..deps import AccountDep, RuntimeDep
from ..openapi import errors

router = APIRouter()


def _task_request(family: str):
    async def task_request(task_id: str, request: Request, rt: RuntimeDep, account: AccountDep):
        task = await run_in_threadpool(rt.service.get, account, task_id=task_id, family=family)
        return ok(request_body(task), request)

    return task_request


for _family in FAMILIES:
    router.add_api_route(
        f"/v1/videos/{_family}/{{task_id}}/request",
        _task_request(_family),
        methods=["GET"],
        tags=[_family],
        summary="The task's settings and seed as a create body (openkling extension)",
        responses=errors(404),
    )
