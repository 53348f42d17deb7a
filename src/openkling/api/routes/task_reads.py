"""The read side every Kling door shares: list, get (by task id or external id) and cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...contract.kling.present import task_object
from ...domain.queue import QueueInfo
from ...domain.status import TaskStatus
from ...domain.task import StoredTask
from ...errors import InvalidParameter
from ...observability import logs
from ...runtime import Runtime
from ..context import ok
from ..deps import (
    BEARER_SECURITY,
    AccountDep,
    BaseUrlDep,
    RuntimeDep,
    account_of,
    base_url_of,
    cached_account_of,
    read,
)
from ..openapi import EXTERNAL_ID, PAGING, TaskEnvelope, TaskListEnvelope, errors


def present(rt: Runtime, task: StoredTask, base_url: str, queue: QueueInfo | None = None) -> dict:
    return task_object(
        task, rt.storage, base_url=base_url, expires_in=rt.settings.url_expiry_seconds, queue=queue
    )


async def presented(rt: Runtime, task: StoredTask, base_url: str) -> dict:
    """The task object with its place in line while it waits: one more indexed read then."""
    queue = await rt.service.queue.of_async(task) if task.status is TaskStatus.SUBMITTED else None
    return present(rt, task, base_url, queue)


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
    async def list_tasks(
        request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep
    ):
        external = request.query_params.get("external_task_id")
        if external:
            task = await read(rt, rt.service.get, account, external_id=external, family=family)
            return ok(await presented(rt, task, base_url), request)
        page = int_param(request, "pageNum", 1, 1, 1000)
        size = int_param(request, "pageSize", 30, 1, 500)

        def page_of_tasks():
            tasks = rt.service.list(account, page=page, size=size, family=family)
            return tasks, rt.service.queue.of_many(tasks)

        tasks, queues = await run_in_threadpool(page_of_tasks)
        return ok([present(rt, t, base_url, queues.get(t.id)) for t in tasks], request)

    @router.get(
        "/{task_id}",
        summary=f"Get one {family} task by task_id or external_task_id",
        response_model=TaskEnvelope,
        responses=errors(404),
        openapi_extra={"parameters": [EXTERNAL_ID], "security": BEARER_SECURITY},
    )
    async def get_task(task_id: str, request: Request):
        # what clients poll: no dependency solving, and on SQLite no thread hand-over
        rt = request.app.state.runtime
        external = request.query_params.get("external_task_id")

        # the cached key checked in the statement that reads the task: one round trip, awaited
        # on the loop
        account = cached_account_of(request)
        if account is not None and not external:
            task = await rt.service.get_if_current_async(account, task_id, family)
            if task is False:  # revoked or rotated since cached: the full check answers
                rt.accounts.forget(account)
            elif task is not None:
                return ok(await presented(rt, task, base_url_of(request)), request)

        def lookup():
            account = account_of(request)  # checks the key itself
            if external:
                return account, rt.service.get(account, external_id=external, family=family)
            return account, rt.service.get(account, task_id=task_id, family=family)

        account, task = await read(rt, lookup)
        logs.account.set(account.id)  # (set in the pool's copy of the context when read there)
        return ok(await presented(rt, task, base_url_of(request)), request)

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
