"""Kling's 2026 task queries: GET /tasks (a batch by ids) and POST /tasks (cursor pages).

Only tasks made through the 2026 endpoints are seen here: the legacy doors'
(/v1/videos/...) are read at their own doors, in their own shape, as Kling keeps them apart.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from ...contract.kling2026 import (
    CreatedRecord,
    TaskPage,
    TaskQueryRequest,
    TaskRecord,
    encode_cursor,
    parse_batch,
    parse_page,
    task_record,
)
from ...domain.task import StoredTask
from ...domain.vocabulary import FAMILIES_2026
from ...runtime import Runtime
from ...store.db import now_ms
from ...tasks import queries
from ..body import json_body
from ..context import ok
from ..deps import AccountDep, BaseUrlDep, RuntimeDep, read
from ..openapi import errors, query
from ..openapi import json_body as body_doc

router = APIRouter(tags=["kling 2026"])


class _Success(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Literal[0]
    message: Literal["SUCCEED"]
    request_id: str


class CreatedEnvelope(_Success):
    data: CreatedRecord


class RecordListEnvelope(_Success):
    data: list[TaskRecord]


class PageEnvelope(_Success):
    data: TaskPage


async def _present(rt: Runtime, rows: list[StoredTask], base_url: str) -> list[dict]:
    """The records, each waiting one with its place in line (one indexed read each)."""
    expires = rt.settings.url_expiry_seconds
    queues = await read(rt, rt.service.queue.of_many, rows)
    return [
        task_record(r, rt.storage, base_url=base_url, expires_in=expires, queue=queues.get(r.id))
        for r in rows
    ]


@router.get(
    "/tasks",
    summary="Tasks by id or external id (a batch; unknown ids are absent)",
    response_model=RecordListEnvelope,
    responses=errors(),
    openapi_extra={
        "parameters": [
            query("task_ids", {"type": "string"}, "task ids, comma-separated"),
            query("external_task_ids", {"type": "string"}, "your ids, comma-separated"),
        ]
    },
)
async def get_tasks(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
    batch = parse_batch(request.query_params)
    rows = await read(
        rt, queries.batch, rt.sessions, account, batch.ids,
        by_external=batch.by_external, families=FAMILIES_2026,
    )  # fmt: skip
    return ok(await _present(rt, rows, base_url), request)


@router.post(
    "/tasks",
    summary="One page of tasks, newest first (cursor paging, time window, filters)",
    response_model=PageEnvelope,
    responses=errors(),
    openapi_extra=body_doc(TaskQueryRequest),
)
async def page_tasks(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
    raw = await request.body()
    body = await json_body(request, rt.settings.max_body_bytes) if raw.strip() else {}
    q = parse_page(body, now_ms())
    if q.product_types is not None and "video" not in q.product_types:
        rows: list = []  # openkling makes videos only
        more = False
    else:
        rows, more = await read(
            rt, queries.page, rt.sessions, account, families=FAMILIES_2026,
            start_ms=q.start_ms, end_ms=q.end_ms, after_id=q.after_id, limit=q.limit,
            statuses=q.statuses,
        )  # fmt: skip
    cursor = encode_cursor(rows[-1].id, q.start_ms, q.end_ms) if more else ""
    data = {
        "result": await _present(rt, rows, base_url),
        "count": len(rows),
        "next_cursor": cursor,
        "has_more": more,
    }
    return ok(data, request)
