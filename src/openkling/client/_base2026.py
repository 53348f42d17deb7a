"""What the sync and async 2026 resources share: request bodies, paths, and the poll rule."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ._base import image_value
from .errors import NotFoundError, TaskFailedError, WaitTimeout
from .types import ImageLike
from .types2026 import TaskRecord

TASKS_PATH = "/tasks"


def create_path(endpoint: str, model: str) -> str:
    return f"/{endpoint}/{quote(model, safe='.-_')}"


def settings_and_options(
    *,
    settings: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    duration: int | None = None,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    audio: str | None = None,
    multi_shot: bool | None = None,
    callback_url: str | None = None,
    external_task_id: str | None = None,
    watermark: bool | None = None,
) -> dict[str, Any]:
    """``settings{}`` and ``options{}``: the keyword arguments fill in what the dicts leave."""
    s = dict(settings or {})
    for key, value in (
        ("duration", duration), ("aspect_ratio", aspect_ratio), ("resolution", resolution),
        ("audio", audio), ("multi_shot", multi_shot),
    ):  # fmt: skip
        if value is not None:
            s.setdefault(key, value)
    o = dict(options or {})
    if callback_url is not None:
        o.setdefault("callback_url", callback_url)
    if external_task_id is not None:
        o.setdefault("external_task_id", external_task_id)
    if watermark is not None:
        o.setdefault("watermark_info", {"enabled": watermark})
    return {**({"settings": s} if s else {}), **({"options": o} if o else {})}


def contents(
    *,
    prompt: str | None,
    first_frame: ImageLike | None = None,
    last_frame: ImageLike | None = None,
    refer_images: Sequence[ImageLike] = (),
) -> list[dict[str, Any]]:
    """``contents[]``: the prompt, the frames and reference images (``@image_1`` is the first)."""
    out: list[dict[str, Any]] = []
    if prompt is not None:
        out.append({"type": "prompt", "text": prompt})
    if first_frame is not None:
        out.append({"type": "first_frame", "url": image_value(first_frame, "first_frame")})
    if last_frame is not None:
        out.append({"type": "last_frame", "url": image_value(last_frame, "last_frame")})
    for n, image in enumerate(refer_images, start=1):
        url = image_value(image, f"refer_images[{n - 1}]")
        out.append({"type": "refer_image", "url": url, "id": f"image_{n}"})
    return out


def batch_params(task_ids: Sequence[str] | None, external_task_ids: Sequence[str] | None) -> dict:
    if bool(task_ids) == bool(external_task_ids):
        raise ValueError("give task_ids or external_task_ids (one of the two)")
    if task_ids:
        return {"task_ids": ",".join(task_ids)}
    return {"external_task_ids": ",".join(external_task_ids or ())}


def page_body(
    *,
    start_time: int | None,
    end_time: int | None,
    cursor: str | None,
    limit: int | None,
    status: Sequence[str] | None,
    product_type: Sequence[str] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in (
        ("start_time", start_time), ("end_time", end_time), ("cursor", cursor), ("limit", limit),
    ):  # fmt: skip
        if value is not None:
            body[key] = value
    filters = [
        {"key": key, "values": list(values)}
        for key, values in (("status", status), ("product_type", product_type))
        if values
    ]
    if filters:
        body["filters"] = filters
    return body


def one(records: list[TaskRecord], wanted: str) -> TaskRecord:
    if not records:
        raise NotFoundError(f"task '{wanted}' does not exist", status_code=404, code=1203)
    return records[0]


def poll_step(
    record: TaskRecord, *, deadline: float | None, timeout: float | None, poll_interval: float
) -> float | None:
    """After one poll: ``None`` when succeeded, else seconds to sleep; raises
    ``TaskFailedError`` for a failed task, ``WaitTimeout`` past the deadline."""
    if record.status == "succeeded":
        return None
    if record.status == "failed":
        raise TaskFailedError(record)  # type: ignore[arg-type]
    if deadline is None:
        return poll_interval
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise WaitTimeout(record, timeout or 0.0)  # type: ignore[arg-type]
    return min(poll_interval, remaining)
