"""Kling's 2026 API in the asynchronous client: the mirror image of ``_sync2026.py`` (keep
them in step)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ._base import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT, DownloadProgress
from ._base2026 import (
    TASKS_PATH,
    batch_params,
    contents,
    create_path,
    one,
    page_body,
    poll_step,
    settings_and_options,
)
from ._download import target_path
from .types import ImageLike
from .types2026 import TaskPage, TaskRecord

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


class Kling(Protocol):
    """What these endpoints use of the client (``_async.AsyncKling``, which imports this
    module)."""

    @property
    def tasks(self) -> Tasks: ...

    async def _request(
        self, method: str, path: str, *, params: dict | None = None, json: Any = None
    ) -> Any: ...

    async def _download(
        self, url: str, target: Path, on_progress: DownloadProgress | None
    ) -> Path: ...


class Tasks:
    """``/tasks``: the tasks made through the 2026 endpoints."""

    def __init__(self, client: Kling) -> None:
        self._client = client

    async def get(
        self, task_id: str | None = None, *, external_task_id: str | None = None
    ) -> TaskRecord:
        """One task by its id or your external id (``NotFoundError`` when there is none)."""
        if task_id:
            return one(await self.get_many([task_id]), task_id)
        if not external_task_id:
            raise ValueError("give task_id or external_task_id")
        return one(await self.get_many(external_task_ids=[external_task_id]), external_task_id)

    async def get_many(
        self,
        task_ids: Sequence[str] | None = None,
        *,
        external_task_ids: Sequence[str] | None = None,
    ) -> list[TaskRecord]:
        """A batch (``GET /tasks``); unknown ids are absent from the answer."""
        params = batch_params(task_ids, external_task_ids)
        data = await self._client._request("GET", TASKS_PATH, params=params)
        return [TaskRecord.from_dict(d) for d in data or []]

    async def list(
        self,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        status: Sequence[str] | None = None,
        product_type: Sequence[str] | None = None,
    ) -> TaskPage:
        """One page, newest first (``POST /tasks``); pass ``next_cursor`` for the next."""
        body = page_body(
            start_time=start_time, end_time=end_time, cursor=cursor, limit=limit,
            status=status, product_type=product_type,
        )  # fmt: skip
        return TaskPage.from_dict(await self._client._request("POST", TASKS_PATH, json=body))

    async def iter_all(self, *, limit: int = 100, **filters: Any) -> AsyncIterator[TaskRecord]:
        """Every task of the window, page after page, newest first."""
        page = await self.list(limit=limit, **filters)
        for record in page.result:
            yield record
        while page.has_more and page.next_cursor:
            page = await self.list(cursor=page.next_cursor, limit=limit, **filters)
            for record in page.result:
                yield record

    async def wait(
        self,
        task: str | TaskRecord,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_progress: Callable[[TaskRecord], None] | None = None,
    ) -> TaskRecord:
        """Poll until the task succeeds (returned) or fails (``TaskFailedError``); past
        ``timeout`` seconds ``WaitTimeout``."""
        task_id = task.id if isinstance(task, TaskRecord) else task
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = await self.get(task_id)
            if on_progress is not None:
                on_progress(record)
            delay = poll_step(
                record, deadline=deadline, timeout=timeout, poll_interval=poll_interval
            )
            if delay is None:
                return record
            await asyncio.sleep(delay)

    async def download(
        self,
        task: str | TaskRecord,
        path: str | os.PathLike[str] | None = None,
        *,
        on_progress: DownloadProgress | None = None,
    ) -> Path:
        """Save the task's video to ``path`` (default ``<task id>.mp4``), resuming."""
        record = task if isinstance(task, TaskRecord) else await self.get(task)
        if record.video is None or not record.video.url:
            record = await self.get(record.id)
        video = record.video
        if video is None or not video.url:
            raise ValueError(f"task {record.id} has no video yet (status {record.status})")
        return await self._client._download(
            video.url,
            target_path(None if path is None else Path(path), f"{record.id}.mp4"),
            on_progress,
        )


class _Create:
    _endpoint = ""

    def __init__(self, client: Kling) -> None:
        self._client = client

    async def _post(self, model: str, body: dict[str, Any]) -> TaskRecord:
        data = await self._client._request("POST", create_path(self._endpoint, model), json=body)
        return TaskRecord.from_dict(data)

    # each resource's own, with its fields as keyword arguments
    create: Callable[..., Awaitable[TaskRecord]]

    async def create_and_wait(
        self,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_progress: Callable[[TaskRecord], None] | None = None,
        **params: Any,
    ) -> TaskRecord:
        """``create(**params)``, then ``tasks.wait()`` for it."""
        record = await self.create(**params)
        if on_progress is not None:
            on_progress(record)
        return await self._client.tasks.wait(
            record, timeout=timeout, poll_interval=poll_interval, on_progress=on_progress
        )


class TextToVideo(_Create):
    """``POST /text-to-video/{model}``."""

    _endpoint = "text-to-video"

    async def create(
        self,
        *,
        model: str,
        prompt: str,
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
    ) -> TaskRecord:
        body = {"prompt": prompt, **settings_and_options(
            settings=settings, options=options, duration=duration, aspect_ratio=aspect_ratio,
            resolution=resolution, audio=audio, multi_shot=multi_shot,
            callback_url=callback_url, external_task_id=external_task_id, watermark=watermark,
        )}  # fmt: skip
        return await self._post(model, body)


class ImageToVideo(_Create):
    """``POST /image-to-video/{model}``: a first frame (path, bytes, PIL image, URL or
    base64), an optional last frame and prompt; the video takes the picture's aspect."""

    _endpoint = "image-to-video"

    async def create(
        self,
        *,
        model: str,
        first_frame: ImageLike,
        prompt: str | None = None,
        last_frame: ImageLike | None = None,
        settings: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        duration: int | None = None,
        resolution: str | None = None,
        audio: str | None = None,
        multi_shot: bool | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        watermark: bool | None = None,
    ) -> TaskRecord:
        items = contents(prompt=prompt, first_frame=first_frame, last_frame=last_frame)
        body = {"contents": items, **settings_and_options(
            settings=settings, options=options, duration=duration, resolution=resolution,
            audio=audio, multi_shot=multi_shot, callback_url=callback_url,
            external_task_id=external_task_id, watermark=watermark,
        )}  # fmt: skip
        return await self._post(model, body)


class OmniVideo(_Create):
    """``POST /omni-video/{model}``: a prompt, optional frames, and reference images named
    ``@image_1``, ``@image_2``, ... in the prompt, in the order given."""

    _endpoint = "omni-video"

    async def create(
        self,
        *,
        model: str,
        prompt: str,
        first_frame: ImageLike | None = None,
        last_frame: ImageLike | None = None,
        refer_images: Sequence[ImageLike] = (),
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
    ) -> TaskRecord:
        items = contents(
            prompt=prompt, first_frame=first_frame, last_frame=last_frame, refer_images=refer_images
        )
        body = {"contents": items, **settings_and_options(
            settings=settings, options=options, duration=duration, aspect_ratio=aspect_ratio,
            resolution=resolution, audio=audio, multi_shot=multi_shot,
            callback_url=callback_url, external_task_id=external_task_id, watermark=watermark,
        )}  # fmt: skip
        return await self._post(model, body)
