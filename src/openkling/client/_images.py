"""``/v1/images/generations`` for the SDK: ``images`` on ``Kling`` and ``AsyncKling``.

Built on the video families' task endpoints (get, list, cancel, wait); waiting polls, as the
image door has no event stream, and a download saves one picture (or all of them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._base import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    DownloadProgress,
    ProgressCallback,
    create_body,
    image_value,
    task_from_data,
)
from ._download import target_path
from ._tasks_async import _AsyncVideoTasks
from ._tasks_sync import _VideoTasks
from .errors import InvalidRequestError, NotFoundError
from .types import ImageLike, Task

IMAGES_PATH = "/v1/images/generations"


def images_body(**fields: Any) -> dict[str, Any]:
    """The create request: only the fields given; a reference image as Kling takes it."""
    if fields.get("image") is not None:
        fields["image"] = image_value(fields["image"], "image")
    return create_body(**fields)


def image_url(task: Task, index: int) -> str:
    if not task.succeeded:
        raise InvalidRequestError(
            f"task {task.task_id} has no picture to download (status {task.task_status})"
        )
    found = [image for image in task.images if image.index == index]
    if not found:
        raise NotFoundError(
            f"task {task.task_id} has {len(task.images)} picture(s); none with index {index}"
        )
    if not found[0].url:  # an openkling server past its retention period deleted the file
        raise NotFoundError(f"task {task.task_id}: picture {index} has expired; it was deleted")
    return found[0].url


def picture_name(task_id: str, index: int, url: str) -> str:
    suffix = Path(urlsplit(url).path).suffix.lower()
    return f"{task_id}-{index}{suffix if suffix in ('.png', '.jpg', '.jpeg') else '.png'}"


def _source(task_or_url: Task | str, index: int) -> tuple[str | None, str, str | None]:
    """(url or None, default file name, task id to look up or None)."""
    if isinstance(task_or_url, Task):
        url = image_url(task_or_url, index)
        return url, picture_name(task_or_url.task_id, index, url), None
    if isinstance(task_or_url, str) and task_or_url.startswith(("http://", "https://")):
        return task_or_url, Path(urlsplit(task_or_url).path).name or "image.png", None
    if isinstance(task_or_url, str) and task_or_url:
        return None, "", task_or_url
    raise InvalidRequestError(f"download() takes a Task, a task id or a URL, got {task_or_url!r}")


class Images(_VideoTasks):
    """``/v1/images/generations``: create pictures, get, list, cancel, wait, download."""

    _path = IMAGES_PATH

    def create(
        self,
        *,
        prompt: str,
        model_name: str | None = None,
        negative_prompt: str | None = None,
        image: ImageLike | None = None,
        image_reference: str | None = None,
        image_fidelity: float | None = None,
        human_fidelity: float | None = None,
        resolution: str | None = None,
        n: int | None = None,
        aspect_ratio: str | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> Task:
        """Submit a task making ``n`` pictures (1 to 9) of ``prompt``, optionally from a
        reference ``image`` (a path, bytes, a PIL image or an http(s) URL)."""
        body = images_body(
            model_name=model_name,
            prompt=prompt,
            negative_prompt=negative_prompt,
            image=image,
            image_reference=image_reference,
            image_fidelity=image_fidelity,
            human_fidelity=human_fidelity,
            resolution=resolution,
            n=n,
            aspect_ratio=aspect_ratio,
            callback_url=callback_url,
            external_task_id=external_task_id,
        )
        body.update(extra_body or {})
        return task_from_data(self._client._request("POST", self._path, json=body))

    def wait(
        self,
        task_id: str | Task,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
        stream: bool = False,
    ) -> Task:
        """Poll until the task succeeds (returned) or fails (``TaskFailedError``)."""
        return super().wait(
            task_id,
            timeout=timeout,
            poll_interval=poll_interval,
            on_progress=on_progress,
            stream=False,  # no event stream at this door
        )

    def download(
        self,
        task_or_url: Task | str,
        path: str | os.PathLike[str] | None = None,
        *,
        index: int = 0,
        on_progress: DownloadProgress | None = None,
    ) -> Path:
        """Save picture ``index`` of a task (a Task, a task id) or a URL to ``path`` (default
        ``<task_id>-<index>.png``). Returns the path written."""
        url, name, task_id = _source(task_or_url, index)
        if url is None:
            url, name, _ = _source(self.get(task_id or ""), index)
        assert url is not None  # a looked-up task gives its picture's URL, or raises
        target = target_path(None if path is None else Path(path), name)
        return self._client._download(url, target, on_progress)

    def download_all(self, task: Task | str, directory: str | os.PathLike[str] = ".") -> list[Path]:
        """Save every picture of a task into ``directory``, in index order."""
        task = self.get(task) if isinstance(task, str) else task
        Path(directory).mkdir(parents=True, exist_ok=True)
        return [self.download(task, directory, index=image.index) for image in task.images]


class AsyncImages(_AsyncVideoTasks):
    """``Images`` for ``AsyncKling``."""

    _path = IMAGES_PATH

    async def create(
        self,
        *,
        prompt: str,
        model_name: str | None = None,
        negative_prompt: str | None = None,
        image: ImageLike | None = None,
        image_reference: str | None = None,
        image_fidelity: float | None = None,
        human_fidelity: float | None = None,
        resolution: str | None = None,
        n: int | None = None,
        aspect_ratio: str | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> Task:
        body = images_body(
            model_name=model_name,
            prompt=prompt,
            negative_prompt=negative_prompt,
            image=image,
            image_reference=image_reference,
            image_fidelity=image_fidelity,
            human_fidelity=human_fidelity,
            resolution=resolution,
            n=n,
            aspect_ratio=aspect_ratio,
            callback_url=callback_url,
            external_task_id=external_task_id,
        )
        body.update(extra_body or {})
        return task_from_data(await self._client._request("POST", self._path, json=body))

    async def wait(
        self,
        task_id: str | Task,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
        stream: bool = False,
    ) -> Task:
        return await super().wait(
            task_id,
            timeout=timeout,
            poll_interval=poll_interval,
            on_progress=on_progress,
            stream=False,  # no event stream at this door
        )

    async def download(
        self,
        task_or_url: Task | str,
        path: str | os.PathLike[str] | None = None,
        *,
        index: int = 0,
        on_progress: DownloadProgress | None = None,
    ) -> Path:
        url, name, task_id = _source(task_or_url, index)
        if url is None:
            url, name, _ = _source(await self.get(task_id or ""), index)
        assert url is not None  # a looked-up task gives its picture's URL, or raises
        target = target_path(None if path is None else Path(path), name)
        return await self._client._download(url, target, on_progress)

    async def download_all(
        self, task: Task | str, directory: str | os.PathLike[str] = "."
    ) -> list[Path]:
        task = await self.get(task) if isinstance(task, str) else task
        Path(directory).mkdir(parents=True, exist_ok=True)
        return [await self.download(task, directory, index=image.index) for image in task.images]
