"""The read side every Kling door shares: list, get (by task id or external id) and cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...errors import InvalidParameter
from ...tasks.present import task_object
from ..context import ok
from ..deps import AccountDep, BaseUrlDep, RuntimeDep
from ..openapi import EXTERNAL_ID, PAGING, TaskEnvelope, TaskListEnvelope, errors


def present(rt, task, base_url: str) -> dict:
    return task_object(
        task, rt.storage, base_url=base_url, expires_in=rt.settings.url_expiry_seconds
    )


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
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


def add_task_reads(router: APIRouter, family: str) -> None:
    """List, get and cancel on ``router`` for the tasks of ``family`` (no others are seen)."""

    @router.get(
        "",
        summary=f"List {family} tasks (newest first), or get one by ?external_task_id=",
        response_model=TaskListEnvelope | TaskEnvelope,
        responses=errors(404),
        openapi_extra={"parameters": [*PAGING, EXTERNAL_ID]},
    )
    def list_tasks(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
        external = request.query_params.get("external_task_id")
        if external:
            task = rt.service.get(account, external_id=external, family=family)
            return ok(present(rt, task, base_url), request)
        page = int_param(request, "pageNum", 1, 1, 1000)
        size = int_param(request, "pageSize", 30, 1, 500)
        tasks = rt.service.list(account, page=page, size=size, family=family)
        return ok([present(rt, t, base_url) for t in tasks], request)

    @router.get(
        "/{task_id}",
        summary=f"Get one {family} task by task_id or external_task_id",
        response_model=TaskEnvelope,
        responses=errors(404),
        openapi_extra={"parameters": [EXTERNAL_ID]},
    )
    def get_task(
        task_id: str, request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep
    ):
        external = request.query_params.get("external_task_id")
        if external:
            task = rt.service.get(account, external_id=external, family=family)
        else:
            task = rt.service.get(account, task_id=task_id, family=family)
        return ok(present(rt, task, base_url), request)

    @router.post(
        "/{task_id}/cancel",
        summary=f"Cancel a {family} task (openkling extension)",
        response_model=TaskEnvelope,
        responses=errors(404),
    )
    def cancel_task(
        task_id: str, request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep
    ):
        task = rt.service.cancel(account, task_id, family=family)
        return ok(present(rt, task, base_url), request)
