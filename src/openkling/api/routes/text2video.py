"""/v1/videos/text2video: create, get (by task id or external id), list, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...contract import parse_text2video
from ...errors import InvalidParameter
from ...tasks.present import task_object
from ..body import json_body
from ..context import ok
from ..deps import (
    BEARER_SECURITY,
    AccountDep,
    BaseUrlDep,
    RuntimeDep,
    account_of,
    base_url_of,
    read,
)
from ..openapi import EXTERNAL_ID, PAGING, TaskEnvelope, TaskListEnvelope, Text2VideoRequest, errors
from ..openapi import json_body as body_doc

router = APIRouter(prefix="/v1/videos/text2video", tags=["text2video"])


def _present(rt, task, base_url: str) -> dict:
    return task_object(
        task, rt.storage, base_url=base_url, expires_in=rt.settings.url_expiry_seconds
    )


# The two hot routes (create, and get: what clients poll) take the request alone and call the
# dependencies' functions themselves: FastAPI's dependency solving costs more than the work.
# Their OpenAPI entries declare the bearer scheme by hand.


@router.post(
    "",
    summary="Create a text-to-video task",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra={**body_doc(Text2VideoRequest), "security": BEARER_SECURITY},
)
async def create(request: Request):
    rt = request.app.state.runtime
    account = account_of(request)
    body = await json_body(request, rt.settings.max_body_bytes)
    req = parse_text2video(body, rt.catalog, url_allow=rt.settings.url_allowlist)
    task = await rt.service.create_async(account, req)
    return ok(_present(rt, task, base_url_of(request)), request)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(
            f"{name}: must be an integer between {low} and {high}, got {raw[:40]!r}"
        ) from None
    if not low <= value <= high:
        raise InvalidParameter(f"{name}: must be between {low} and {high}, got {value}")
    return value


@router.get(
    "",
    summary="List tasks (newest first), or get one by ?external_task_id=",
    response_model=TaskListEnvelope | TaskEnvelope,
    responses=errors(404),
    openapi_extra={"parameters": [*PAGING, EXTERNAL_ID]},
)
async def list_tasks(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
    external = request.query_params.get("external_task_id")
    if external:
        task = await read(rt, rt.service.get, account, external_id=external)
        return ok(_present(rt, task, base_url), request)
    page = _int_param(request, "pageNum", 1, 1, 1000)
    size = _int_param(request, "pageSize", 30, 1, 500)
    tasks = await run_in_threadpool(rt.service.list, account, page=page, size=size)
    return ok([_present(rt, t, base_url) for t in tasks], request)


@router.get(
    "/{task_id}",
    summary="Get one task by task_id or external_task_id",
    response_model=TaskEnvelope,
    responses=errors(404),
    openapi_extra={"parameters": [EXTERNAL_ID], "security": BEARER_SECURITY},
)
async def get_task(task_id: str, request: Request):
    rt = request.app.state.runtime
    account = account_of(request)
    base_url = base_url_of(request)
    external = request.query_params.get("external_task_id")
    if external:
        task = await read(rt, rt.service.get, account, external_id=external)
    else:
        task = await read(rt, rt.service.get, account, task_id=task_id)
    return ok(_present(rt, task, base_url), request)


@router.post(
    "/{task_id}/cancel",
    summary="Cancel a task (openkling extension)",
    response_model=TaskEnvelope,
    responses=errors(404),
)
def cancel_task(
    task_id: str, request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep
):
    task = rt.service.cancel(account, task_id)
    return ok(_present(rt, task, base_url), request)
