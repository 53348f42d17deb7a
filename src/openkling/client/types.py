"""Response objects: Task, Video, Costs. Parsed leniently: unknown fields are kept in ``raw``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Costs", "Image", "ResourcePack", "Shot", "Task", "TaskResult", "Video"]

TERMINAL_STATUSES = ("succeed", "failed")


def _str(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _int(value: Any) -> int | None:
    """Integers as Kling sends them; numeric strings are accepted, anything else is ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Shot:
    """One shot of a multi-shot request (``multi_prompt``): its prompt and whole seconds."""

    prompt: str
    duration: int

    def to_dict(self, index: int) -> dict[str, Any]:
        return {"index": index, "prompt": self.prompt, "duration": str(int(self.duration))}


@dataclass(frozen=True)
class Video:
    """One result video. ``duration`` stays the string Kling sends ("5.1"). ``watermark_url``
    is the watermarked copy, when the task asked for one (``watermark_info``)."""

    id: str
    url: str
    duration: str = ""
    cover_url: str | None = None
    watermark_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def duration_seconds(self) -> float | None:
        return _float(self.duration)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Video:
        data = _dict(data)
        cover, marked = data.get("cover_url"), data.get("watermark_url")
        return cls(
            id=_str(data.get("id")),
            url=_str(data.get("url")),
            duration=_str(data.get("duration")),
            cover_url=None if cover is None else str(cover),
            watermark_url=marked if isinstance(marked, str) and marked else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class Image:
    """One result picture of an image task (``/v1/images/generations``), numbered from 0."""

    index: int
    url: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Image:
        data = _dict(data)
        return cls(index=_int(data.get("index")) or 0, url=_str(data.get("url")), raw=dict(data))


@dataclass(frozen=True)
class TaskResult:
    videos: list[Video] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)  # an image task's pictures

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskResult:
        videos, images = _dict(data).get("videos"), _dict(data).get("images")
        return cls(
            videos=[Video.from_dict(v) for v in videos or [] if isinstance(v, dict)],
            images=[Image.from_dict(i) for i in images or [] if isinstance(i, dict)],
        )


@dataclass(frozen=True)
class Task:
    """A text2video task. Ids stay strings (the official service's are 18 digits)."""

    task_id: str
    task_status: str
    task_status_msg: str = ""
    task_info: dict[str, Any] = field(default_factory=dict)
    created_at: int | None = None  # milliseconds since the epoch
    updated_at: int | None = None
    final_unit_deduction: str | None = None  # credits charged, as a string
    task_progress: int | None = None  # 0..100, an openkling extension
    task_result: TaskResult | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.task_status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.task_status == "succeed"

    @property
    def failed(self) -> bool:
        return self.task_status == "failed"

    @property
    def external_task_id(self) -> str | None:
        value = self.task_info.get("external_task_id")
        return None if value in (None, "") else str(value)

    @property
    def videos(self) -> list[Video]:
        return self.task_result.videos if self.task_result else []

    @property
    def parent_video(self) -> Video | None:
        """An extension's parent: the video it continues (``task_info.parent_video``)."""
        parent = self.task_info.get("parent_video")
        return Video.from_dict(parent) if isinstance(parent, dict) else None

    @property
    def images(self) -> list[Image]:
        """An image task's pictures, in index order."""
        return sorted(self.task_result.images, key=lambda i: i.index) if self.task_result else []

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        data = _dict(data)
        deduction = data.get("final_unit_deduction")
        result = data.get("task_result")
        return cls(
            task_id=_str(data.get("task_id")),
            task_status=_str(data.get("task_status")),
            task_status_msg=_str(data.get("task_status_msg")),
            task_info=dict(_dict(data.get("task_info"))),
            created_at=_int(data.get("created_at")),
            updated_at=_int(data.get("updated_at")),
            final_unit_deduction=None if deduction is None else str(deduction),
            task_progress=_int(data.get("task_progress")),
            task_result=TaskResult.from_dict(result) if isinstance(result, dict) else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class ResourcePack:
    resource_pack_name: str
    resource_pack_id: str = ""
    resource_pack_type: str = ""
    total_quantity: float = 0.0
    remaining_quantity: float = 0.0
    purchase_time: int | None = None
    effective_time: int | None = None
    invalid_time: int | None = None
    status: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResourcePack:
        data = _dict(data)
        return cls(
            resource_pack_name=_str(data.get("resource_pack_name")),
            resource_pack_id=_str(data.get("resource_pack_id")),
            resource_pack_type=_str(data.get("resource_pack_type")),
            total_quantity=_float(data.get("total_quantity")) or 0.0,
            remaining_quantity=_float(data.get("remaining_quantity")) or 0.0,
            purchase_time=_int(data.get("purchase_time")),
            effective_time=_int(data.get("effective_time")),
            invalid_time=_int(data.get("invalid_time")),
            status=_str(data.get("status")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Costs:
    """``GET /account/costs``: the account's resource packs (openkling reports one)."""

    resource_pack_subscribe_infos: list[ResourcePack] = field(default_factory=list)
    code: int | None = None
    msg: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def _usable(self) -> list[ResourcePack]:
        return [p for p in self.resource_pack_subscribe_infos if p.status in ("", "online")]

    @property
    def remaining_quantity(self) -> float:
        """Credits left across the packs that are in force."""
        return sum(p.remaining_quantity for p in self._usable())

    @property
    def total_quantity(self) -> float:
        return sum(p.total_quantity for p in self._usable())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Costs:
        data = _dict(data)
        packs = data.get("resource_pack_subscribe_infos") or []
        return cls(
            resource_pack_subscribe_infos=[
                ResourcePack.from_dict(p) for p in packs if isinstance(p, dict)
            ],
            code=_int(data.get("code")),
            msg=_str(data.get("msg")),
            raw=dict(data),
        )


# an image argument: a file path, the file's bytes, a PIL image, or an http(s) URL
ImageLike = Any
