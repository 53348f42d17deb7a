"""`openkling generate` and `openkling tasks ...`: the SDK from the command line."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ..client import (
    APIConnectionError,
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    Kling,
    KlingError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    Shot,
    Task,
    TaskFailedError,
    WaitTimeout,
)
from ..client._base import DEFAULT_BASE_URL
from ..domain.vocabulary import (
    ASPECT_RATIOS,
    CAMERA_AXES,
    CAMERA_TYPES,
    CLASSIC_DURATIONS,
    DEFAULT_MODEL,
    MODES,
    V3_DURATIONS,
)

# Exit codes (documented in docs/sdk.md). 2 is click's own for usage errors.
EXIT_CODES: tuple[tuple[type[KlingError], int, str], ...] = (
    (AuthenticationError, 3, "authentication failed"),
    (PermissionDeniedError, 3, "permission denied"),
    (InvalidRequestError, 4, "invalid request"),
    (NotFoundError, 5, "not found"),
    (InsufficientCreditsError, 6, "insufficient credits"),
    (RateLimitError, 7, "rate limited"),
    (ServerError, 8, "server error"),
    (TaskFailedError, 9, "task failed"),
    (WaitTimeout, 10, "timed out"),
    (APIConnectionError, 11, "cannot connect"),
)
DURATION_CHOICES = [str(s) for s in sorted(set(CLASSIC_DURATIONS) | set(V3_DURATIONS))]
CAMERA_PRESETS = tuple(t for t in CAMERA_TYPES if t != "simple")

stderr = Console(stderr=True, highlight=False)


def exit_code(error: KlingError) -> tuple[int, str]:
    for cls, code, label in EXIT_CODES:
        if isinstance(error, cls):
            return code, label
    return 1, "error"


def fail(error: KlingError) -> NoReturn:
    code, label = exit_code(error)
    message = " ".join(str(error).split())  # one line, whatever the server wrote
    click.echo(f"error: {label}: {message}", err=True)
    sys.exit(code)


def handle_errors(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KlingError as error:
            fail(error)

    return wrapper


def connection_options(fn: Callable) -> Callable:
    """--base-url / --official and credentials, each falling back to its KLING_* variable."""
    options = (
        click.option(
            "--base-url",
            envvar="KLING_BASE_URL",
            default=None,
            show_envvar=True,
            help="Root of the server to talk to, with or without /v1.",
        ),
        click.option(
            "--official",
            is_flag=True,
            help=f"Talk to Kling's official service ({DEFAULT_BASE_URL}) instead.",
        ),
        click.option(
            "--access-key",
            envvar="KLING_ACCESS_KEY",
            default=None,
            show_envvar=True,
            help="Access key (signs a JWT with --secret-key).",
        ),
        click.option(
            "--secret-key",
            envvar="KLING_SECRET_KEY",
            default=None,
            show_envvar=True,
            help="Secret key that goes with --access-key.",
        ),
        click.option(
            "--api-key",
            envvar="KLING_API_KEY",
            default=None,
            show_envvar=True,
            help="A plain API key, sent as is (instead of access + secret key).",
        ),
    )
    for option in reversed(options):
        fn = option(fn)
    return fn


NO_SERVER = (
    "no server named: give --base-url URL (or export KLING_BASE_URL) for an openkling "
    "server, or --official for Kling's official service. Your keys go only to a host you name."
)


def server_url(base_url: str | None, official: bool) -> str:
    """The host a command talks to: the one named, never a default the user did not ask for."""
    if official and base_url:
        raise click.UsageError(
            f"--official talks to {DEFAULT_BASE_URL}; it cannot go with --base-url {base_url} "
            "(or KLING_BASE_URL): give one"
        )
    if official:
        return DEFAULT_BASE_URL
    if not base_url:
        raise click.UsageError(NO_SERVER)
    return base_url


def make_client(base_url, official, access_key, secret_key, api_key, note: str = "") -> Kling:
    """A client for the named server; says on stderr (one line) which host it talks to."""
    url = server_url(base_url, official)
    client = Kling(base_url=url, access_key=access_key, secret_key=secret_key, api_key=api_key)
    click.echo(f"openkling: server {client.base_url}{f' ({note})' if note else ''}", err=True)
    return client


def parse_camera(values: tuple[str, ...]) -> dict[str, Any] | None:
    """``--camera zoom=3 --camera pan=-2`` -> a simple move; ``--camera down_back`` -> a preset."""
    if not values:
        return None
    presets = [v for v in values if "=" not in v]
    axes: dict[str, float] = {}
    for value in values:
        if "=" not in value:
            continue
        key, _, raw = value.partition("=")
        key = key.strip()
        if key not in CAMERA_AXES:
            raise click.BadParameter(
                f"unknown axis {key!r}; axes: {', '.join(CAMERA_AXES)}", param_hint="--camera"
            )
        try:
            axes[key] = float(raw)
        except ValueError:
            raise click.BadParameter(
                f"{key} needs a number, got {raw!r}", param_hint="--camera"
            ) from None
    if presets and axes or len(presets) > 1:
        raise click.BadParameter(
            "give one preset, or axis=value moves, not both", param_hint="--camera"
        )
    if presets:
        if presets[0] not in CAMERA_PRESETS:
            raise click.BadParameter(
                f"unknown preset {presets[0]!r}; presets: {', '.join(CAMERA_PRESETS)}; "
                f"or axis=value with axes {', '.join(CAMERA_AXES)}",
                param_hint="--camera",
            )
        return {"type": presets[0]}
    config = {k: int(v) if v.is_integer() else v for k, v in axes.items()}
    return {"type": "simple", "config": config}


def parse_shots(values: tuple[str, ...]) -> list[Shot]:
    """``--shot "3:a quiet village" --shot "4:a red car"`` -> the shots, in order."""
    shots = []
    for value in values:
        seconds, sep, prompt = value.partition(":")
        if not sep or not seconds.strip().isdecimal() or not prompt.strip():
            raise click.BadParameter(
                f"expected SECONDS:PROMPT such as '3:a quiet village', got {value!r}",
                param_hint="--shot",
            )
        shots.append(Shot(prompt=prompt.strip(), duration=int(seconds)))
    return shots


class TaskProgress:
    """A rich progress bar for a task: status, task_progress and elapsed time. On a terminal
    it redraws; elsewhere (logs, pipes) it prints one line per status change."""

    def __init__(self, console: Console = stderr) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._bar: Any = None
        self._last: tuple[str, str] | None = None

    def __enter__(self) -> TaskProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self.progress.stop()

    def update(self, task: Task) -> None:
        label = f"{task.task_id} {task.task_status}"
        if self._bar is None:  # started on the first task seen: no empty bar on early errors
            self.progress.start()
            self._bar = self.progress.add_task(label, total=100)
        done = task.task_progress if task.task_progress is not None else 0
        if task.succeeded:
            done = 100
        self.progress.update(self._bar, description=label, completed=done)
        if not self.console.is_terminal and self._last != (task.task_id, task.task_status):
            self._last = (task.task_id, task.task_status)
            click.echo(f"task {task.task_id}: {task.task_status} {done}%", err=True)


def download_with_bar(
    client: Kling, task: Task | str, output: Path | None, index: int, family: str = "text2video"
) -> Path:
    progress = Progress(
        TextColumn("[bold]download"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )
    with progress:
        bar = progress.add_task("download", total=None)

        def on_chunk(received: int, total: int | None) -> None:
            progress.update(bar, completed=received, total=total)

        tasks = getattr(client, family)
        return tasks.download(task, output, index=index, on_progress=on_chunk)


@contextlib.contextmanager
def _local_or_remote(
    local: bool, base_url, official, access_key, secret_key, api_key, data_dir: Path | None
) -> Iterator[Kling]:
    """A client for the named server, or for a server started in this process (--local, or
    no server named). Says which on stderr."""
    ctx = click.get_current_context()
    from_env = ctx.get_parameter_source("base_url") is click.core.ParameterSource.ENVIRONMENT
    if local and official:
        raise click.UsageError("--local generates in this process: it cannot go with --official")
    if local and base_url and not from_env:
        raise click.UsageError("--local generates in this process: it cannot go with --base-url")
    if not local and (base_url or official):
        note = "from KLING_BASE_URL; --local generates in this process" if from_env else ""
        with make_client(base_url, official, access_key, secret_key, api_key, note) as client:
            yield client
        return
    from ..embedded import run_embedded
    from ..errors import DataDirInUse

    why = " (KLING_BASE_URL ignored)" if base_url else ""
    click.echo(f"openkling: generating in-process, no server{why}", err=True)
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(run_embedded(data_dir=data_dir))
        except DataDirInUse as exc:  # a server runs on this data dir: say where it is
            raise click.ClickException(str(exc)) from None
        yield stack.enter_context(
            Kling(
                base_url=server.base_url,
                access_key=server.access_key,
                secret_key=server.secret_key,
            )
        )


@click.command()
@click.argument("prompt", required=False, default="")
@click.option(
    "--image",
    default=None,
    metavar="PATH|URL",
    help="Animate this picture (JPG or PNG; a file is sent as base64): image2video.",
)
@click.option(
    "--image-tail",
    default=None,
    metavar="PATH|URL",
    help="End the video on this picture (image2video).",
)
@click.option(
    "--model",
    "model_name",
    default=None,
    show_default=DEFAULT_MODEL,
    help="model_name, e.g. kling-v2-6 (kling-v3 when --shot is given).",
)
@click.option(
    "--mode", type=click.Choice(MODES, case_sensitive=False), default=None, show_default="std"
)
@click.option(
    "--duration",
    type=click.Choice(DURATION_CHOICES),
    default=None,
    show_default="5",
    help='Seconds: "5" or "10"; "3" to "15" on kling-v3 (default with --shot: their sum).',
)
@click.option("--aspect-ratio", type=click.Choice(ASPECT_RATIOS), default=None, show_default="16:9")
@click.option("--negative-prompt", default=None, help="What to keep out of the video.")
@click.option(
    "--cfg-scale", type=float, default=None, show_default="0.5", help="Prompt adherence, 0..1."
)
@click.option(
    "--camera",
    multiple=True,
    metavar="AXIS=N|PRESET",
    help="Camera move: axis=value (repeatable; axes horizontal, vertical, pan, tilt, roll, "
    "zoom; -10..10) or a preset (down_back, forward_up, right_turn_forward, left_turn_forward).",
)
@click.option("--sound", is_flag=True, default=False, help="Generate an audio track too.")
@click.option(
    "--shot",
    "shots",
    multiple=True,
    metavar="SECONDS:PROMPT",
    help='One shot of a multi-shot video, e.g. --shot "3:a quiet village" (repeatable, up '
    "to 6; kling-v3).",
)
@click.option(
    "--watermark",
    is_flag=True,
    default=False,
    help="Also make a watermarked copy (saved beside the video as NAME.watermark.mp4).",
)
@click.option("--external-task-id", default=None, help="Your own id for the task.")
@click.option("--callback-url", default=None, help="URL notified on every status change.")
@click.option(
    "--api",
    type=click.Choice(["legacy", "2026"]),
    default="legacy",
    show_default=True,
    help="Which Kling API: legacy (/v1/videos/..., model_name) or 2026 (/text-to-video/{model}"
    ", /image-to-video/{model}, /tasks; models kling-2.6, kling-3.0, ...).",
)
@click.option(
    "--resolution",
    type=click.Choice(["720p", "1080p", "4k"]),
    default=None,
    show_default="720p",
    help="Output resolution (--api 2026).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=True),
    default=None,
    help="Where to write the MP4 (default <task_id>.mp4; a directory is allowed).",
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
def generate(
    prompt,
    image,
    image_tail,
    model_name,
    mode,
    duration,
    aspect_ratio,
    negative_prompt,
    cfg_scale,
    camera,
    sound,
    shots,
    watermark,
    external_task_id,
    callback_url,
    api,
    resolution,
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
    """Make one video from PROMPT (and/or --image) and save it as an MP4; print its path.

    --local: in this process, no server (KLING_BASE_URL is ignored). --base-url (or
    KLING_BASE_URL) / --official: on that server. With none of them: in this process.
    The first line on stderr says which.
    """
    camera_control = parse_camera(camera)
    multi_prompt = parse_shots(shots)
    if api == "2026":
        _generate_2026(
            prompt=prompt, image=image, image_tail=image_tail, model=model_name,
            duration=duration, aspect_ratio=aspect_ratio, resolution=resolution, sound=sound,
            shots=multi_prompt, watermark=watermark, external_task_id=external_task_id,
            callback_url=callback_url, output=output, timeout=timeout,
            poll_interval=poll_interval, local=local, data_dir=data_dir, base_url=base_url,
            official=official, access_key=access_key, secret_key=secret_key, api_key=api_key,
            legacy={"mode": mode, "negative_prompt": negative_prompt, "cfg_scale": cfg_scale,
                    "camera_control": camera_control},
        )  # fmt: skip
        return
    if resolution:
        raise click.UsageError("--resolution is an option of --api 2026 (legacy: --mode pro)")
    family = "image2video" if image or image_tail else "text2video"
    if family == "text2video" and not prompt.strip() and not multi_prompt:
        raise click.UsageError(
            "give a PROMPT, the shots of a multi-shot video with --shot, or --image / "
            "--image-tail to animate a picture"
        )
    if family == "image2video" and (aspect_ratio or multi_prompt):
        raise click.UsageError(
            "--aspect-ratio and --shot do not apply with --image: the video takes the "
            "picture's aspect"
        )
    if multi_prompt and model_name is None:
        model_name = "kling-v3"
    params: dict[str, Any] = {
        "prompt": prompt or None,
        "model_name": model_name,
        "mode": mode.lower() if mode else None,
        "duration": duration,
        "negative_prompt": negative_prompt,
        "cfg_scale": cfg_scale,
        "camera_control": camera_control,
        "sound": "on" if sound else None,
        "watermark_info": True if watermark else None,
        "external_task_id": external_task_id,
        "callback_url": callback_url,
    }
    if family == "image2video":
        params.update(image=_picture_arg(image), image_tail=_picture_arg(image_tail))
    else:
        params.update(prompt=prompt, aspect_ratio=aspect_ratio, multi_prompt=multi_prompt or None)
    with _local_or_remote(
        local, base_url, official, access_key, secret_key, api_key, data_dir
    ) as client:
        started = time.monotonic()
        tasks = getattr(client, family)
        with TaskProgress() as bar:
            task = tasks.create_and_wait(
                **params, timeout=timeout, poll_interval=poll_interval, on_progress=bar.update
            )
        path = download_with_bar(client, task, output, 0, family)
        marked = None
        if watermark and task.videos[0].watermark_url:
            marked = tasks.download(
                task.videos[0].watermark_url, path.with_name(f"{path.stem}.watermark.mp4")
            )
    video = task.videos[0]
    click.echo(
        f"task {task.task_id}: {video.duration} s video in {time.monotonic() - started:.1f} s, "
        f"{task.final_unit_deduction or '0'} credits",
        err=True,
    )
    click.echo(str(path))
    if marked is not None:
        click.echo(str(marked))


def _generate_2026(*, legacy: dict, local, data_dir, base_url, official, access_key,
                   secret_key, api_key, image, image_tail, **params: Any) -> None:  # fmt: skip
    from .generate2026 import generate_2026, refuse_legacy_options, report

    refuse_legacy_options(**legacy)
    if not (params["prompt"] or "").strip() and not params["shots"] and not image:
        raise click.UsageError("give a PROMPT, --shot ..., or --image to animate a picture")
    with _local_or_remote(
        local, base_url, official, access_key, secret_key, api_key, data_dir
    ) as client:
        started = time.monotonic()
        with TaskProgress() as bar:
            record, path, marked = generate_2026(
                client, image=_picture_arg(image), image_tail=_picture_arg(image_tail),
                progress=bar, **params,
            )  # fmt: skip
    click.echo(report(record, started), err=True)
    click.echo(str(path))
    if marked is not None:
        click.echo(str(marked))


def _picture_arg(value: str | None) -> str | Path | None:
    """--image / --image-tail: a URL as is, else a file that must exist."""
    if value is None or value.startswith(("http://", "https://")):
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise click.BadParameter(f"no such file: {value}", param_hint="--image")
    return path


@click.group()
def tasks() -> None:
    """Tasks on the server you name: --base-url (or KLING_BASE_URL), or --official for Kling's
    official service; keys from KLING_ACCESS_KEY / KLING_SECRET_KEY. text2video tasks, or
    image2video ones with --image2video."""


def family_option(fn: Callable) -> Callable:
    return click.option(
        "--image2video",
        "image2video",
        is_flag=True,
        help="The task is an image2video one (Kling keeps the two kinds apart).",
    )(fn)


def _family(client: Kling, image2video: bool):
    return client.image2video if image2video else client.text2video


def _created(task: Task) -> str:
    if task.created_at is None:
        return ""
    return datetime.fromtimestamp(task.created_at / 1000).strftime("%Y-%m-%d %H:%M:%S")


@tasks.command("list")
@click.option("--page", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 500), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the task objects as JSON.")
@family_option
@connection_options
@handle_errors
def tasks_list(
    page, page_size, as_json, image2video, base_url, official, access_key, secret_key, api_key
) -> None:
    """One page of tasks, newest first."""
    with make_client(base_url, official, access_key, secret_key, api_key) as client:
        items = _family(client, image2video).list(page=page, page_size=page_size)
    if as_json:
        click.echo(json.dumps([t.raw for t in items], indent=2))
        return
    table = Table("task_id", "status", "progress", "credits", "created", "external id", "note")
    for t in items:
        note = t.task_status_msg or (t.videos[0].url if t.videos else "")
        progress = "" if t.task_progress is None else f"{t.task_progress}%"
        table.add_row(
            t.task_id,
            t.task_status,
            progress,
            t.final_unit_deduction or "",
            _created(t),
            t.external_task_id or "",
            note,
        )
    Console(width=200).print(table)


@tasks.command("get")
@click.argument("task_id")
@click.option("--external", is_flag=True, help="TASK_ID is your external_task_id.")
@family_option
@connection_options
@handle_errors
def tasks_get(
    task_id, external, image2video, base_url, official, access_key, secret_key, api_key
) -> None:
    """Print one task as JSON."""
    with make_client(base_url, official, access_key, secret_key, api_key) as client:
        family = _family(client, image2video)
        if external:
            task = family.get(external_task_id=task_id)
        else:
            task = family.get(task_id)
    click.echo(json.dumps(task.raw, indent=2))


@tasks.command("wait")
@click.argument("task_id")
@click.option("--timeout", type=float, default=1800.0, show_default=True)
@click.option("--poll-interval", type=float, default=1.0, show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Also download the video here when the task succeeds.",
)
@family_option
@connection_options
@handle_errors
def tasks_wait(
    task_id,
    timeout,
    poll_interval,
    output,
    image2video,
    base_url,
    official,
    access_key,
    secret_key,
    api_key,
) -> None:
    """Wait for a task to finish, with a progress bar; exit 9 if it fails."""
    with make_client(base_url, official, access_key, secret_key, api_key) as client:
        with TaskProgress() as bar:
            task = _family(client, image2video).wait(
                task_id, timeout=timeout, poll_interval=poll_interval, on_progress=bar.update
            )
        if output is not None:
            family = "image2video" if image2video else "text2video"
            click.echo(str(download_with_bar(client, task, output, 0, family)))
            return
    click.echo(f"{task.task_id} {task.task_status} {task.videos[0].url if task.videos else ''}")


@tasks.command("download")
@click.argument("task_id")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None)
@click.option("--index", type=int, default=0, show_default=True, help="Which video of the task.")
@family_option
@connection_options
@handle_errors
def tasks_download(
    task_id, output, index, image2video, base_url, official, access_key, secret_key, api_key
) -> None:
    """Download a finished task's video (resumes a partial download); print its path."""
    family = "image2video" if image2video else "text2video"
    with make_client(base_url, official, access_key, secret_key, api_key) as client:
        click.echo(str(download_with_bar(client, task_id, output, index, family)))


@tasks.command("cancel")
@click.argument("task_id")
@family_option
@connection_options
@handle_errors
def tasks_cancel(task_id, image2video, base_url, official, access_key, secret_key, api_key) -> None:
    """Cancel an unfinished task (openkling servers only)."""
    with make_client(base_url, official, access_key, secret_key, api_key) as client:
        task = _family(client, image2video).cancel(task_id)
    click.echo(f"{task.task_id} {task.task_status} {task.task_status_msg}".rstrip())
