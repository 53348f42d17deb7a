"""The 2026 task queries: ``GET /tasks?task_ids=`` (a batch) and ``POST /tasks`` (cursor pages).

A cursor is opaque to clients: base64url of the last task id a page showed and the page's
time window. Pages run newest first by task id (ids are time-ordered), so tasks created while
a client pages are not shown again and do not shift later pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...domain.status import TaskStatus
from ...errors import InvalidParameter
from ..fields import _bad
from .present import STATUS_2026
from .requests import TaskQueryRequest, validate

MAX_BATCH = 500
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
DAY_MS = 24 * 3600 * 1000
DEFAULT_WINDOW_MS = 30 * DAY_MS
STATUSES = tuple(STATUS_2026.values())
PRODUCT_TYPES = ("video", "image", "try_on")
STORED_STATUS: dict[str, TaskStatus] = {word: status for status, word in STATUS_2026.items()}


@dataclass(frozen=True)
class Batch:
    by_external: bool
    ids: tuple[str, ...]


@dataclass(frozen=True)
class PageQuery:
    start_ms: int
    end_ms: int
    after_id: str | None  # the last id shown by the page before (exclusive)
    limit: int
    statuses: tuple[TaskStatus, ...] | None  # None: any
    product_types: tuple[str, ...] | None  # None: any


def parse_batch(params: Mapping[str, str]) -> Batch:
    ids, external = params.get("task_ids"), params.get("external_task_ids")
    if ids and external:
        raise _bad("task_ids", "give task_ids or external_task_ids, not both")
    if not ids and not external:
        raise _bad("task_ids", "is required (comma-separated), or external_task_ids")
    field = "task_ids" if ids else "external_task_ids"
    values = tuple(dict.fromkeys(v.strip() for v in (ids or external or "").split(",")))
    values = tuple(v for v in values if v)
    if not values:
        raise _bad(field, "names no task")
    if len(values) > MAX_BATCH:
        raise _bad(field, f"at most {MAX_BATCH} ids, got {len(values)}")
    return Batch(by_external=not ids, ids=values)


def _millis(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise _bad(field, f"must be a Unix time in milliseconds (a number or a string), got {value!r}")


def encode_cursor(after_id: str, start_ms: int, end_ms: int) -> str:
    raw = json.dumps({"a": after_id, "s": start_ms, "e": end_ms}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        after, start, end = data["a"], data["s"], data["e"]
        if isinstance(after, str) and isinstance(start, int) and isinstance(end, int):
            return after, start, end
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise _bad("cursor", "is not a cursor this server gave (use next_cursor of the last page)")


def parse_page(body: Any, now_ms: int) -> PageQuery:
    req = validate(TaskQueryRequest, {} if body is None else body)
    limit = DEFAULT_LIMIT if req.limit is None else req.limit
    if not 1 <= limit <= MAX_LIMIT:
        raise _bad("limit", f"must be between 1 and {MAX_LIMIT}, got {limit}")
    statuses = products = None
    for i, item in enumerate(req.filters or []):
        allowed = STATUSES if item.key == "status" else PRODUCT_TYPES
        for value in item.values:
            if value not in allowed:
                raise _bad(
                    f"filters[{i}].values",
                    f"{value!r} is not a {item.key}; allowed values: {', '.join(allowed)}",
                )
        if item.key == "status":
            statuses = tuple(STORED_STATUS[v] for v in item.values)
        else:
            products = tuple(item.values)
    if req.cursor:  # Kling: with a cursor, start_time and end_time are ignored
        after, start, end = _decode_cursor(req.cursor)
        return PageQuery(start, end, after, limit, statuses, products)
    given_end = _millis(req.end_time, "end_time")
    end = now_ms if given_end is None else given_end
    given_start = _millis(req.start_time, "start_time")
    start = end - DEFAULT_WINDOW_MS if given_start is None else given_start
    if start >= end:
        raise _bad("start_time", f"must be earlier than end_time ({start} >= {end})")
    return PageQuery(start, end, None, limit, statuses, products)


__all__ = [
    "Batch",
    "InvalidParameter",
    "PageQuery",
    "encode_cursor",
    "parse_batch",
    "parse_page",
]
