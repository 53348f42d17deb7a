"""Prometheus metrics: every series openkling exports, and the collector that reads the store."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..domain.status import UNFINISHED, TaskStatus
from ..store.db import Sessions
from ..store.models import Callback, Task

log = logging.getLogger(__name__)

__all__ = ["CONTENT_TYPE_LATEST", "render", "start_http_server"]

disable_created_metrics()  # no `_created` series: dashboards use rate() over the counters

# -- the HTTP edge ---------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "openkling_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ("route", "method", "status"),
)
HTTP_DURATION = Histogram(
    "openkling_http_request_duration_seconds",
    "Time from request to the end of the response, by route template.",
    ("route",),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# -- tasks -----------------------------------------------------------------------------------
TASKS = Counter(
    "openkling_tasks",
    "Tasks by model and outcome: accepted at create, then succeed or failed.",
    ("model", "status"),
)
ACCEPTED = "accepted"  # the tasks_total status label of a create (not a TaskStatus)
QUEUE_SECONDS = Histogram(
    "openkling_task_queue_seconds",
    "Time a task waited from submitted to processing.",
    ("model",),
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
STAGE_SECONDS = Histogram(
    "openkling_task_stage_seconds",
    "Time of each worker stage of a task (render, camera, audio, encode, store, ...).",
    ("model", "stage"),
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
DENOISE_STEP_SECONDS = Histogram(
    "openkling_denoise_step_seconds",
    "Time of one denoising step of a diffusers engine.",
    ("model",),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
)
GPU_MEMORY_PEAK = Gauge(
    "openkling_gpu_memory_peak_bytes",
    "Peak CUDA memory allocated during the model's last task (CUDA hosts only).",
    ("model",),
)

# -- the fleet: claims, pipeline swaps, affinity (pipeline swaps per 100 tasks is
# 100 * rate(openkling_pipeline_swaps_total) / rate(openkling_worker_claims_total)) ----------
WORKER_CLAIMS = Counter(
    "openkling_worker_claims",
    "Tasks a worker took to run, by model.",
    ("model",),
)
PIPELINE_SWAPS = Counter(
    "openkling_pipeline_swaps",
    "Runs whose model differed from the worker's previous run (a pipeline load), by model.",
    ("model",),
)
AFFINITY_PASSES = Counter(
    "openkling_affinity_pass_overs",
    "Claims that took another model's task over the fair pick (affinity, balance), by the "
    "model taken.",
    ("model",),
)

# -- callbacks and credits -------------------------------------------------------------------
CALLBACK_DELIVERIES = Counter(
    "openkling_callback_deliveries",
    "Callback POST attempts by result: delivered, retry (will be tried again) or dead.",
    ("result",),
)
CREDITS_CHARGED = Counter(
    "openkling_credits_charged",
    "Credits charged at create, by model.",
    ("model",),
)
CREDITS_REFUNDED = Counter(
    "openkling_credits_refunded",
    "Credits given back when a task failed, by model.",
    ("model",),
)


# -- recording helpers (called by the lifecycle, the service and the worker) -----------------
def task_accepted(model: str, cost_milli: int) -> None:
    TASKS.labels(model, ACCEPTED).inc()
    CREDITS_CHARGED.labels(model).inc(cost_milli / 1000)


def task_transition(model: str, new: TaskStatus, *, created_at_ms: int, refund_milli: int) -> None:
    """A status change committed by ``Lifecycle.transition``."""
    if new is TaskStatus.PROCESSING:
        QUEUE_SECONDS.labels(model).observe(max(time.time() - created_at_ms / 1000, 0.0))
    elif new.is_terminal():
        TASKS.labels(model, new.value).inc()
        if refund_milli:
            CREDITS_REFUNDED.labels(model).inc(refund_milli / 1000)


def worker_claim(model: str, previous: str | None) -> None:
    """A worker took a task of ``model`` after running one of ``previous``."""
    WORKER_CLAIMS.labels(model).inc()
    if previous is not None and previous != model:
        PIPELINE_SWAPS.labels(model).inc()


def affinity_pass_over(model: str) -> None:
    AFFINITY_PASSES.labels(model).inc()


class StageMetrics:
    """The worker's observer (``worker.stages.WorkerObserver``): each timed step of a run
    becomes a stage histogram sample."""

    def stage(self, model: str, stage: str, seconds: float) -> None:
        STAGE_SECONDS.labels(model, stage).observe(seconds)


class StoreCollector(Collector):
    """Gauges read from the task store at scrape time, so they are right across hosts:
    ``openkling_tasks_in_state`` (submitted / processing now) and ``openkling_callbacks_pending``.
    """

    def __init__(self, sessions: Sessions, models: Iterable[str]) -> None:
        self.sessions = sessions
        self.models = tuple(models)

    def describe(self) -> Iterator[GaugeMetricFamily]:  # no store read at registration
        yield GaugeMetricFamily("openkling_tasks_in_state", "", labels=("model", "state"))
        yield GaugeMetricFamily("openkling_callbacks_pending", "")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        states = UNFINISHED
        counts: dict[tuple[str, str], int] = {(m, s.value): 0 for m in self.models for s in states}
        pending = None
        try:
            with self.sessions() as s:
                rows = s.execute(
                    select(Task.model_name, Task.status, func.count())
                    .where(Task.status.in_(states))
                    .group_by(Task.model_name, Task.status)
                ).all()
                pending = s.execute(
                    select(func.count()).select_from(Callback).where(Callback.state == "pending")
                ).scalar_one()
            for model, state, n in rows:
                counts[(model, state)] = n
        except Exception:  # a scrape must not fail because the store hiccuped
            log.exception("metrics: cannot read the task store")
            return
        in_state = GaugeMetricFamily(
            "openkling_tasks_in_state",
            "Tasks submitted or processing now, by model, read from the task store.",
            labels=("model", "state"),
        )
        for (model, state), n in sorted(counts.items()):
            in_state.add_metric((model, state), n)
        yield in_state
        yield GaugeMetricFamily(
            "openkling_callbacks_pending",
            "Callback deliveries waiting in the outbox (not yet delivered or given up).",
            value=pending,
        )


def register_store(sessions: Sessions, models: Iterable[str]) -> StoreCollector:
    collector = StoreCollector(sessions, models)
    REGISTRY.register(collector)
    return collector


def unregister(collector: Collector) -> None:
    try:
        REGISTRY.unregister(collector)
    except KeyError:
        pass


def render(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The exposition text of every registered metric."""
    return generate_latest(registry)
