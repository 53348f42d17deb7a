"""`openkling generate --api 2026`: one video through Kling's 2026 endpoints (the model in the
path: /text-to-video/{model} or /image-to-video/{model}), saved as an MP4."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from ..client import Kling, Shot, TaskRecord

DEFAULT_MODEL_2026 = "kling-2.6"
MULTI_SHOT_MODEL = "kling-3.0"


def shot_prompt(shots: list[Shot]) -> str:
    """Shots in Kling's prompt syntax: ``shot 1, 3, words; shot 2, 4, words;``."""
    return " ".join(
        f"shot {n}, {int(s.duration)}, {s.prompt.replace(';', ',')};"
        for n, s in enumerate(shots, 1)
    )


def refuse_legacy_options(**given: Any) -> None:
    """The 2026 API has no mode, negative prompt, cfg_scale or camera control."""
    names = {
        "mode": "--mode (use --resolution 720p or 1080p)",
        "negative_prompt": "--negative-prompt",
        "cfg_scale": "--cfg-scale",
        "camera_control": "--camera (describe the camera in the prompt)",
    }
    used = [names[k] for k, v in given.items() if v]
    if used:
        raise click.UsageError(f"the 2026 API has no {', '.join(used)}")


def generate_2026(
    client: Kling,
    *,
    prompt: str,
    image: Any,
    image_tail: Any,
    model: str | None,
    duration: str | None,
    aspect_ratio: str | None,
    resolution: str | None,
    sound: bool,
    shots: list[Shot],
    watermark: bool,
    external_task_id: str | None,
    callback_url: str | None,
    output: Path | None,
    timeout: float,
    poll_interval: float,
    progress,
) -> tuple[TaskRecord, Path, Path | None]:
    """Create, wait (``progress.update`` sees each state) and download; the record and paths."""
    if shots:
        prompt = shot_prompt(shots)
        duration = duration or str(sum(int(s.duration) for s in shots))
        model = model or MULTI_SHOT_MODEL
    common: dict[str, Any] = {
        "model": model or DEFAULT_MODEL_2026,
        "duration": int(duration) if duration else None,
        "resolution": resolution,
        "audio": "native" if sound else None,
        "watermark": True if watermark else None,
        "external_task_id": external_task_id,
        "callback_url": callback_url,
        "timeout": timeout,
        "poll_interval": poll_interval,
        "on_progress": progress.update,
    }
    if image is not None or image_tail is not None:
        if image is None:
            raise click.UsageError("--image-tail needs --image: the first frame is required")
        record = client.image_to_video.create_and_wait(
            first_frame=image, last_frame=image_tail, prompt=prompt or None, **common
        )
    else:
        record = client.text_to_video.create_and_wait(
            prompt=prompt, aspect_ratio=aspect_ratio, **common
        )
    bar = Progress(
        TextColumn("[bold]download"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
        transient=True,
    )  # fmt: skip
    with bar:
        row = bar.add_task("download", total=None)

        def on_chunk(received: int, total: int | None) -> None:
            bar.update(row, completed=received, total=total)

        path = client.tasks.download(record, output, on_progress=on_chunk)
    marked = None
    video = record.video
    if watermark and video is not None and video.watermark_url:
        target = path.with_name(f"{path.stem}.watermark.mp4")
        marked = client._download(video.watermark_url, target, None)
    return record, path, marked


def report(record: TaskRecord, started: float) -> str:
    video = record.video
    amount = record.billing[0].amount if record.billing else "0"
    length = video.duration if video is not None else "?"
    return (
        f"task {record.id}: {length} s video in {time.monotonic() - started:.1f} s, "
        f"{amount} credits"
    )
