"""One family's task endpoints in the synchronous client (get, list, cancel, wait, download):
the base of ``_sync``'s families and of ``_images``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from ._base import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    TEXT2VIDEO_PATH,
    DownloadProgress,
    ProgressCallback,
    events_path,
    pick_external,
    poll_step,
    task_from_data,
    task_path,
    tasks_from_data,
)
from ._download import (
    download_source,
    target_path,
    video_url,
)
from .errors import InvalidRequestError
from .types import Task


class _Client(Protocol):
    """What the endpoints use of the client (``_sync.Kling``, which imports this module)."""

    _events: bool

    def _request(
        self, method: str, path: str, *, params: dict | None = None, json: Any = None
    ) -> Any: ...

    def _download(self, url: str, target: Path, on_progress: DownloadProgress | None) -> Path: ...

    def _follow(
        self, path: str, *, deadline: float | None, timeout: float | None, on_progress: Any
    ) -> Task | None: ...


class _VideoTasks:
    """One family's task endpoints: get, list, cancel, wait, download."""

    _path = TEXT2VIDEO_PATH
    create: Callable[..., Task]  # each family's own parameters

    def __init__(self, client: _Client) -> None:
        self._client = client

    def get(self, task_id: str | None = None, *, external_task_id: str | None = None) -> Task:
        """One task, by ``task_id`` or by your ``external_task_id``."""
        if (task_id is None) == (external_task_id is None):
            raise InvalidRequestError("give exactly one of task_id and external_task_id")
        if external_task_id is not None:
            data = self._client._request(
                "GET", self._path, params={"external_task_id": external_task_id}
            )
            return pick_external(data, external_task_id)
        return task_from_data(self._client._request("GET", task_path(task_id, self._path)))

    def list(self, page: int = 1, page_size: int = 30) -> list[Task]:
        """One page of tasks, newest first."""
        data = self._client._request(
            "GET", self._path, params={"pageNum": page, "pageSize": page_size}
        )
        return tasks_from_data(data)

    def iter_all(self, *, page_size: int = 100) -> Iterator[Task]:
        """Every task, newest first, fetching pages as needed."""
        page = 1
        while True:
            tasks = self.list(page=page, page_size=page_size)
            yield from tasks
            if len(tasks) < page_size or page >= 1000:
                return
            page += 1

    def cancel(self, task_id: str) -> Task:
        """Cancel an unfinished task (an openkling extension; the official service has none)."""
        return task_from_data(
            self._client._request("POST", task_path(task_id, self._path) + "/cancel")
        )

    def wait(
        self,
        task_id: str | Task,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
        stream: bool = True,
    ) -> Task:
        """Wait until the task succeeds (returned) or fails (``TaskFailedError``); past
        ``timeout`` seconds raise ``WaitTimeout``. ``on_progress(task)`` sees every change.

        Live from the task's event stream where the server offers one (openkling), else (or
        with ``stream=False``) by polling every ``poll_interval`` seconds."""
        if isinstance(task_id, Task):
            task_id = task_id.task_id
        deadline = None if timeout is None else time.monotonic() + timeout
        if stream and self._client._events:
            task = self._client._follow(
                events_path(task_id, self._path),
                deadline=deadline,
                timeout=timeout,
                on_progress=on_progress,
            )
            if task is not None:
                return task
        while True:
            task = self.get(task_id)
            if on_progress is not None:
                on_progress(task)
            delay = poll_step(task, deadline=deadline, timeout=timeout, poll_interval=poll_interval)
            if delay is None:
                return task
            time.sleep(delay)

    def create_and_wait(
        self,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
        **params: Any,
    ) -> Task:
        """``create(**params)``, then ``wait()`` for it."""
        task = self.create(**params)
        if on_progress is not None:
            on_progress(task)
        return self.wait(
            task.task_id, timeout=timeout, poll_interval=poll_interval, on_progress=on_progress
        )

    def download(
        self,
        task_or_url: Task | str,
        path: str | os.PathLike[str] | None = None,
        *,
        index: int = 0,
        on_progress: DownloadProgress | None = None,
    ) -> Path:
        """Save a result video (a Task, a task id or a URL) to ``path`` (default
        ``<task_id>.mp4``), resuming an interrupted download. Returns the path written."""
        url, name, task_id = download_source(task_or_url, index)
        if url is None:
            task = self.get(task_id)
            url, name = video_url(task, index), download_source(task, index)[1]
        return self._client._download(url, target_path(path, name), on_progress)
