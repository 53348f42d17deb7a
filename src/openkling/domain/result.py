"""The typed result of a task: written by the worker, read by the presenters."""

from __future__ import annotations

from pydantic import BaseModel, Field


class VideoResult(BaseModel):
    """One delivered video and what was measured of it after encoding."""

    id: str
    key: str  # storage key of the MP4
    cover_key: str | None = None
    duration: float  # seconds, probed from the file
    width: int
    height: int
    num_frames: int
    fps: float
    has_audio: bool = False
    engine: str = ""
    camera: str | None = None  # camera_control.type, when one was applied
    watermark_key: str | None = None  # a watermarked copy, when one was asked for


class ImageResult(BaseModel):
    """One delivered picture of an image task, in the order it was asked for."""

    index: int  # 0-based, as Kling numbers them
    key: str  # storage key of the PNG or JPEG
    width: int
    height: int
    format: str = "png"  # "png" | "jpeg"
    engine: str = ""


class TaskResult(BaseModel):
    videos: list[VideoResult] = Field(default_factory=list)
    images: list[ImageResult] = Field(default_factory=list)
    seed: int

    def keys(self) -> list[str]:
        """Every storage key this result refers to."""
        keys: list[str] = []
        for video in self.videos:
            keys += [k for k in (video.key, video.cover_key, video.watermark_key) if k]
        keys += [image.key for image in self.images]
        return keys
