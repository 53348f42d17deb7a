"""`openkling image PROMPT -n 2`: pictures from /v1/images/generations, saved as files."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..domain.vocabulary import (
    DEFAULT_IMAGE_MODEL,
    IMAGE_ASPECT_RATIOS,
    IMAGE_MODEL_NAMES,
    IMAGE_REFERENCES,
    IMAGE_RESOLUTIONS,
    MAX_IMAGES,
)
from .client import TaskProgress, _local_or_remote, _picture_arg, connection_options, handle_errors


@click.command()
@click.argument("prompt")
@click.option("-n", "n", type=click.IntRange(1, MAX_IMAGES), default=1, show_default=True)
@click.option(
    "--model",
    "model_name",
    type=click.Choice(IMAGE_MODEL_NAMES),
    default=None,
    show_default=DEFAULT_IMAGE_MODEL,
)
@click.option(
    "--aspect-ratio", type=click.Choice(IMAGE_ASPECT_RATIOS), default=None, show_default="16:9"
)
@click.option("--resolution", type=click.Choice(IMAGE_RESOLUTIONS), default=None, show_default="1k")
@click.option("--negative-prompt", default=None, help="What to keep out of the pictures.")
@click.option(
    "--image",
    default=None,
    metavar="PATH|URL",
    help="A reference picture (JPG or PNG; a file is sent as base64).",
)
@click.option(
    "--image-reference",
    type=click.Choice(IMAGE_REFERENCES),
    default=None,
    help="What the reference gives (needs --image).",
)
@click.option(
    "--image-fidelity",
    type=click.FloatRange(0, 1),
    default=None,
    show_default="0.5",
    help="How closely the pictures keep the reference, 0..1.",
)
@click.option(
    "--human-fidelity",
    type=click.FloatRange(0, 1),
    default=None,
    show_default="0.45",
    help="With --image-reference subject: the likeness kept, 0..1.",
)
@click.option("--external-task-id", default=None, help="Your own id for the task.")
@click.option("--callback-url", default=None, help="URL notified on every status change.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Directory for the pictures (<task_id>-<index>.png).",
)
@click.option("--timeout", type=float, default=1800.0, show_default=True, help="Seconds to wait.")
@click.option("--poll-interval", type=float, default=1.0, show_default=True)
@click.option(
    "--local",
    is_flag=True,
    help="Generate in this process with no server, even if KLING_BASE_URL is set.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    show_default="$OPENKLING_DATA_DIR or ./openkling-data",
    help="Data directory of the in-process server (--local).",
)
@connection_options
@handle_errors
def image(
    prompt,
    n,
    model_name,
    aspect_ratio,
    resolution,
    negative_prompt,
    image,
    image_reference,
    image_fidelity,
    human_fidelity,
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
    """Make N pictures of PROMPT (and from --image) and save them; print each path.

    --local: in this process, no server (KLING_BASE_URL is ignored). --base-url (or
    KLING_BASE_URL) / --official: on that server. With none of them: in this process.
    """
    if not prompt.strip():
        raise click.UsageError("give a PROMPT: what the pictures show")
    if image_reference and not image:
        raise click.UsageError("--image-reference needs --image, the reference picture")
    params = {
        "prompt": prompt,
        "n": n,
        "model_name": model_name,
        "aspect_ratio": aspect_ratio,
        "resolution": resolution,
        "negative_prompt": negative_prompt,
        "image": _picture_arg(image),
        "image_reference": image_reference,
        "image_fidelity": image_fidelity,
        "human_fidelity": human_fidelity,
        "external_task_id": external_task_id,
        "callback_url": callback_url,
    }
    with _local_or_remote(
        local, base_url, official, access_key, secret_key, api_key, data_dir
    ) as client:
        started = time.monotonic()
        with TaskProgress() as bar:
            task = client.images.create_and_wait(
                **params, timeout=timeout, poll_interval=poll_interval, on_progress=bar.update
            )
        paths = client.images.download_all(task, output)
    click.echo(
        f"task {task.task_id}: {len(paths)} picture(s) in {time.monotonic() - started:.1f} s, "
        f"{task.final_unit_deduction or '0'} credits",
        err=True,
    )
    for path in paths:
        click.echo(str(path))
