"""Downloads: where a video comes from and goes to, and how to resume with HTTP Range."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ._base import USER_AGENT
from .errors import APIConnectionError, InvalidRequestError, NotFoundError
from .types import Task


def download_source(task_or_url: Task | str, index: int) -> tuple[str | None, str, str | None]:
    """(url or None, default file name, task id to look up or None) for ``download()``."""
    if isinstance(task_or_url, Task):
        suffix = f"-{index}" if index else ""
        return video_url(task_or_url, index), f"{task_or_url.task_id}{suffix}.mp4", None
    if isinstance(task_or_url, str) and task_or_url.startswith(("http://", "https://")):
        name = Path(urlsplit(task_or_url).path).name or "video.mp4"
        return task_or_url, name, None
    if isinstance(task_or_url, str) and task_or_url:
        return None, "", task_or_url
    raise InvalidRequestError(f"download() takes a Task, a task id or a URL, got {task_or_url!r}")


def video_url(task: Task, index: int) -> str:
    if not task.succeeded:
        raise InvalidRequestError(
            f"task {task.task_id} has no video to download (status {task.task_status})"
        )
    if not 0 <= index < len(task.videos):
        raise NotFoundError(
            f"task {task.task_id} has {len(task.videos)} video(s); no video at index {index}"
        )
    url = task.videos[index].url
    if not url:  # an openkling server past its retention period deleted the file
        raise NotFoundError(f"task {task.task_id}: video {index} has expired; it was deleted")
    return url


def target_path(path: str | os.PathLike[str] | None, default_name: str) -> Path:
    """Where a download goes: ``path``, or ``default_name`` inside it when it is a directory."""
    if path is None:
        return Path(default_name)
    target = Path(path)
    return target / default_name if target.is_dir() else target


def part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


@dataclass(frozen=True)
class DownloadPlan:
    """How to use one response of a (possibly ranged) download."""

    append: bool  # write after the bytes already in the .part file
    total: int | None  # full size of the file, when the server told us
    complete: bool = False  # nothing to fetch: the .part file already holds everything


def range_headers(offset: int) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return headers


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/200`` -> (100, 200); ``bytes */200`` -> (None, 200)."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[len("bytes ") :].partition("/")
    start = span.split("-", 1)[0]
    return (
        int(start) if start.isdigit() else None,
        int(total) if total.isdigit() else None,
    )


def plan_download(response: httpx.Response, offset: int) -> DownloadPlan | None:
    """Decide from the status line; ``None`` means the .part file is unusable: start over.
    Error statuses are not handled here (the caller reads the body and raises)."""
    if response.status_code == 206:
        start, total = _content_range(response.headers.get("content-range"))
        if start != offset:
            return None
        return DownloadPlan(append=True, total=total)
    if response.status_code == 416:
        _, total = _content_range(response.headers.get("content-range"))
        if total is not None and total == offset:
            return DownloadPlan(append=True, total=total, complete=True)
        return None
    length = response.headers.get("content-length")
    encoded = response.headers.get("content-encoding", "identity") != "identity"
    total = int(length) if length and length.isdigit() and not encoded else None
    return DownloadPlan(append=False, total=total)


def check_complete(received: int, total: int | None, url: str) -> None:
    if total is not None and received < total:
        raise APIConnectionError(f"download of {url} ended after {received} of {total} bytes")
