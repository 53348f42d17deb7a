"""`openkling worker`: a Celery worker that runs the engines of some models (scaled layout)."""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

import click

log = logging.getLogger("openkling.worker")


def _models(value: str, known: list[str]) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise click.BadParameter(
            f"unknown model {', '.join(unknown) or '(none given)'}; choose from {', '.join(known)}",
            param_hint="--models",
        )
    return list(dict.fromkeys(names))


@click.command()
@click.option(
    "--models",
    required=True,
    help="Comma-separated model names; the worker consumes only their queues.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Tasks run at once, each in its own process (one per GPU).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Data directory for scratch files (default: $OPENKLING_DATA_DIR or ./openkling-data).",
)
@click.option("--name", default=None, help="Celery node name (default openkling-<pid>@<host>).")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve this worker's Prometheus metrics (stage, queue and denoise-step times, task "
    "outcomes) at http://<OPENKLING_METRICS_HOST>:PORT/metrics [env OPENKLING_METRICS_PORT; "
    "default: none].",
)
def worker(models, concurrency, data_dir, name, metrics_port) -> None:
    """Run the engines of --models for queued tasks.

    Loads the engines once at start, consumes one queue per model (openkling.<model>), takes
    one task at a time per process and acknowledges a message only when its task is done.
    SIGTERM drains: the worker takes no new task, finishes the running one and exits.
    """
    from celery import signals

    from ..config import Settings
    from ..dispatch.celery import make_celery_app, queue_name
    from ..engines.registry import build_catalog
    from ..observability.logs import configure_logging
    from ..runtime import build_worker_process, serve_metrics

    overrides: dict = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if metrics_port is not None:
        overrides["metrics_port"] = metrics_port
    settings = Settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    if settings.dispatcher != "celery":
        log.warning(
            "OPENKLING_DISPATCHER is %r: API servers with that setting run tasks themselves "
            "and publish nothing to the broker",
            settings.dispatcher,
        )
    catalog = build_catalog(settings)
    # a model name serves its videos and, when it is an image model too, its pictures
    names = _models(models, list(dict.fromkeys([*catalog.names, *catalog.images])))
    host = socket.gethostname()[:60]
    parts = build_worker_process(settings, names, owner=f"{host}-{os.getpid()}")
    registry, sessions, runner = parts.registry, parts.sessions, parts.worker
    runner.models = names
    node = name or f"openkling-{os.getpid()}@{host}"
    queues = [queue_name(n) for n in names]

    if concurrency == 1:
        # one task at a time in this process: the engines it loaded are the ones that run
        registry.warm_up(names)
        pool = "solo"
    else:
        pool = "prefork"

        @signals.worker_process_init.connect(weak=False)
        def _child_init(**_):  # each child loads its own weights, after the fork
            sessions.engine.dispose(close=False)
            runner.owner = f"{host}-{os.getpid()}"
            registry.warm_up(names)

        sessions.engine.dispose()  # no connection crosses the fork

    if settings.metrics and settings.metrics_port:
        if pool != "solo":
            log.warning(
                "--metrics-port with --concurrency %d: tasks run in child processes whose "
                "metrics this port does not show; run one worker per GPU with --concurrency 1 "
                "to see them all",
                concurrency,
            )
        serve_metrics(settings)

    @signals.worker_ready.connect(weak=False)
    def _ready(**_):
        log.info(
            "openkling worker %s ready: models %s, %d at a time",
            node,
            ", ".join(names),
            concurrency,
        )

    loaded: list[str | None] = [None]  # the model of this process's last run
    stopping = threading.Event()

    @signals.worker_shutting_down.connect(weak=False)
    def _stopping(**_):
        stopping.set()

    def wake(task_id: str) -> None:
        """A message woke us: run what the fair claim gives, then the next, until none
        waits (a message is a wake-up; the one for the task we ran may wake another)."""
        while not stopping.is_set():
            ran = runner.run_next(loaded=loaded[0])
            if ran is None:
                return
            loaded[0] = ran

    app = make_celery_app(settings, run=wake)
    app.worker_main(
        [
            "worker",
            f"--queues={','.join(queues)}",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--hostname={node}",
            f"--loglevel={settings.log_level.upper()}",
            "--prefetch-multiplier=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
