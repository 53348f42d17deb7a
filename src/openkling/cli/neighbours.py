"""`openkling extend VIDEO_ID`, `openkling effect SCENE --image ...` and `openkling
multi-image --image ... PROMPT`: the neighbouring doors from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from ..client import Kling, Task
from .client import (
    TaskProgress,
    _local_or_remote,
    _picture_arg,
    connection_options,
    download_with_bar,
    handle_errors,
)


def _where(fn):
    """Options every one of these commands takes: output, waiting, and where to run."""
    for option in reversed(
        (
            click.option("--external-task-id", default=None, help="Your own id for the task."),
            click.option(
                "--callback-url", default=None, help="URL notified on every status change."
            ),
            click.option(
                "-o",
                "--output",
                type=click.Path(path_type=Path, dir_okay=True),
                default=None,
                help="Where to write the MP4 (default <task_id>.mp4; a directory is allowed).",
            ),
            click.option("--timeout", type=float, default=1800.0, show_default=True),
            click.option("--poll-interval", type=float, default=1.0, show_default=True),
            click.option("--local", is_flag=True, help="Run in this process with no server."),
            click.option(
                "--data-dir",
                type=click.Path(path_type=Path, file_okay=False),
                default=None,
                help="Data directory of the in-process server (--local).",
            ),
        )
    ):
        fn = option(fn)
    return fn


def _run(
    family: str, params: dict[str, Any], output, timeout, poll_interval, where: tuple
) -> tuple[Task, Path]:
    """Create on ``family``'s door, wait with a progress line, download; report on stderr."""
    started = time.monotonic()
    client: Kling
    with _local_or_remote(*where) as client:
        tasks = getattr(client, family)
        with TaskProgress() as bar:
            task = tasks.create_and_wait(
                **params, timeout=timeout, poll_interval=poll_interval, on_progress=bar.update
            )
        path = download_with_bar(client, task, output, 0, family)
    video = task.videos[0]
    click.echo(
        f"task {task.task_id}: {video.duration} s video in {time.monotonic() - started:.1f} s, "
        f"{task.final_unit_deduction or '0'} credits",
        err=True,
    )
    click.echo(str(path))
    return task, path


@click.command()
@click.argument("video_id")
@click.option("--prompt", default=None, help="What happens next (default: the video's prompt).")
@click.option("--negative-prompt", default=None)
@click.option("--cfg-scale", type=click.FloatRange(0, 1), default=None)
@_where
@connection_options
@handle_errors
def extend(
    video_id,
    prompt,
    negative_prompt,
    cfg_scale,
    external_task_id,
    callback_url,
    output,
    timeout,
    poll_interval,
    local,
    data_dir,
    base_url,
    official,
    access_key,
    secret_key,
    api_key,
) -> None:
    """Extend the video VIDEO_ID (a result video's id) by 5 seconds; save the whole video."""
    params = {
        "video_id": video_id,
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "cfg_scale": cfg_scale,
        "external_task_id": external_task_id,
        "callback_url": callback_url,
    }
    where = (local, base_url, official, access_key, secret_key, api_key, data_dir)
    _run("video_extend", params, output, timeout, poll_interval, where)


@click.command()
@click.argument("scene")
@click.option(
    "--image",
    "images",
    multiple=True,
    required=True,
    help="A picture (file or http(s) URL); twice for a dual scene: left, then right.",
)
@_where
@connection_options
@handle_errors
def effect(
    scene,
    images,
    external_task_id,
    callback_url,
    output,
    timeout,
    poll_interval,
    local,
    data_dir,
    base_url,
    official,
    access_key,
    secret_key,
    api_key,
) -> None:
    """Play the effect SCENE (zoom_out, day_to_night, hug_pro, ...) over --image; save it."""
    pictures = [_picture_arg(image) for image in images]
    params = {
        "effect_scene": scene,
        "images": pictures[0] if len(pictures) == 1 else pictures,
        "external_task_id": external_task_id,
        "callback_url": callback_url,
    }
    where = (local, base_url, official, access_key, secret_key, api_key, data_dir)
    _run("effects", params, output, timeout, poll_interval, where)


@click.command("multi-image")
@click.argument("prompt")
@click.option(
    "--image", "images", multiple=True, required=True, help="A reference picture; 1 to 4."
)
@click.option("--model", "model_name", default=None, show_default="kling-v1-6")
@click.option("--mode", type=click.Choice(["std", "pro"]), default=None)
@click.option("--duration", type=click.Choice(["5", "10"]), default=None)
@click.option("--aspect-ratio", type=click.Choice(["16:9", "9:16", "1:1"]), default=None)
@_where
@connection_options
@handle_errors
def multi_image(
    prompt,
    images,
    model_name,
    mode,
    duration,
    aspect_ratio,
    external_task_id,
    callback_url,
    output,
    timeout,
    poll_interval,
    local,
    data_dir,
    base_url,
    official,
    access_key,
    secret_key,
    api_key,
) -> None:
    """A video of PROMPT in which every --image appears; save it."""
    params = {
        "prompt": prompt,
        "images": [_picture_arg(image) for image in images],
        "model_name": model_name,
        "mode": mode,
        "duration": duration,
        "aspect_ratio": aspect_ratio,
        "external_task_id": external_task_id,
        "callback_url": callback_url,
    }
    where = (local, base_url, official, access_key, secret_key, api_key, data_dir)
    _run("multi_image2video", params, output, timeout, poll_interval, where)
