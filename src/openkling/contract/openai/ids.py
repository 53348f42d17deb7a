"""OpenAI video ids: ``video_`` and the task id. The form is how a path under /v1/videos is
known to be the OpenAI door's (``api/doors.py``)."""

from __future__ import annotations

from collections.abc import Callable

from ...errors import InvalidParameter, TaskNotFound

FAMILY = "openai"  # tasks made through /v1/videos; that door finds and lists only these
ID_PREFIX = "video_"


def is_video_id(segment: str) -> bool:
    """Whether a path segment has the form of an OpenAI video id: it starts with ``video_``
    (ours are video_ and digits, OpenAI's video_ and hex; a foreign or malformed one is still
    the OpenAI door's to answer). No Kling path segment does."""
    return segment.startswith(ID_PREFIX)


def video_id_of(task_id: str) -> str:
    return ID_PREFIX + task_id


def task_id_of(
    video_id: str,
    *,
    param: str = "video_id",
    missing: Callable[[str, str], InvalidParameter] | None = None,
) -> str:
    """The task id inside a ``video_...`` id; anything else names no video."""
    task_id = video_id[len(ID_PREFIX) :] if video_id.startswith(ID_PREFIX) else ""
    if not task_id.isascii() or not task_id.isdecimal() or len(task_id) > 32:
        message = f"video '{video_id[:80]}' does not exist"
        if missing is not None:
            raise missing(param, f"'{video_id[:80]}' is not a video id (video_...)")
        raise TaskNotFound(message, param=param)
    return task_id
