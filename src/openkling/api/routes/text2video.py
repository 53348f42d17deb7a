"""/v1/videos/text2video: create, get (by task id or external id), list, cancel."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...contract import parse_text2video
from ...errors import InvalidParameter, MalformedRequest
from ...tasks.present import task_object
from ..context import ok
from ..deps import AccountDep, BaseUrlDep, RuntimeDep

router = APIRouter(prefix="/v1/videos/text2video", tags=["text2video"])


def _present(rt, task, base_url: str) -> dict:
    return task_object(
        task, rt.storage, base_url=base_url, expires_in=rt.settings.url_expiry_seconds
    )


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not allowed in JSON")


async def _json_body(request: Request, limit: int) -> object:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise MalformedRequest(f"request body is larger than {limit} bytes")
    raw = await request.body()
    if len(raw) > limit:
        raise MalformedRequest(f"request body is larger than {limit} bytes")
    if not raw.strip():
        raise MalformedRequest("request body is empty; send a JSON object")
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise MalformedRequest("request body is not valid JSON: it is nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise MalformedRequest(f"request body is not valid JSON: {exc}") from exc


@router.post("", summary="Create a text-to-video task")
async def create(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
    body = await _json_body(request, rt.settings.max_body_bytes)
    req = parse_text2video(body, rt.catalog, url_allow=rt.settings.url_allowlist)
    task = await run_in_threadpool(rt.service.create, account, req)
    return ok(_present(rt, task, base_url), request)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(
            f"{name}: must be an integer between {low} and {high}, got {raw!r}"
        ) from None
    if not low <= value <= high:
        raise InvalidParameter(f"{name}: must be between {low} and {high}, got {value}")
    return value


@router.get("", summary="List tasks (newest first), or get one by ?external_task_id=")
def list_tasks(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
    external = request.query_params.get("external_task_id")
    if external:
        task = rt.service.get(account, external_id=external)
        return ok(_present(rt, task, base_url), request)
    page = _int_param(request, "pageNum", 1, 1, 1000)
    size = _int_param(request, "pageSize", 30, 1, 500)
    tasks = rt.service.list(account, page=page, size=size)
    return ok([_present(rt, t, base_url) for t in tasks], request)


@router.get("/{task_id}", summary="Get one task by task_id or external_task_id")
def get_task(
    task_id: str, request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep
):
    external = request.query_params.get("external_task_id")
    if external:
        task = rt.service.get(account, external_id=external)
    else:
        task = rt.service.get(account, task_id=task_id)
    return ok(_present(rt, task, base_url), request)


@router.post("/{task_id}/cancel", summary="Cancel a task (openkling extension)")
def cancel_task(
    task_id: str, request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep
):
    task = rt.service.cancel(account, task_id)
    return ok(_present(rt, task, base_url), request)
