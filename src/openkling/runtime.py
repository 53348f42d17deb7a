"""Assembly: build the store, storage, engines, dispatcher and services from one Settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from . import metrics
from .catalog import Catalog
from .config import Settings
from .dispatch.base import Dispatcher
from .storage.base import Storage
from .store.db import Sessions, make_engine, upgrade
from .tasks.accounts import AccountCache
from .tasks.callbacks import CallbackSender
from .tasks.lifecycle import Lifecycle
from .tasks.service import TaskService

log = logging.getLogger(__name__)


def build_storage(settings: Settings) -> Storage:
    if settings.storage == "s3":
        from .storage.s3 import S3Storage

        return S3Storage.from_settings(settings)
    from .storage.local import LocalStorage

    return LocalStorage(settings.media_dir, settings.signing_key)


def open_store(settings: Settings, *, migrate: bool = True) -> Sessions:
    engine = make_engine(settings.db_url)
    if migrate:
        upgrade(engine)
    return Sessions(engine)


@dataclass
class Runtime:
    """Everything one openkling process runs. ``start``/``stop`` own the background threads."""

    settings: Settings
    sessions: Sessions
    storage: Storage
    catalog: Catalog
    lifecycle: Lifecycle
    dispatcher: Dispatcher
    service: TaskService
    accounts: AccountCache | None = None
    sender: CallbackSender | None = None
    worker: object | None = None
    _started: list = field(default_factory=list)
    _metrics: list = field(default_factory=list)

    def start(self) -> None:
        if self.settings.metrics:
            self._metrics.append(metrics.register_store(self.sessions, self.catalog.names))
            if self.settings.metrics_port:
                self._metrics.append(serve_metrics(self.settings))
        self.dispatcher.start()
        self._started.append(self.dispatcher)
        if self.sender is not None:
            self.sender.start()
            self._started.append(self.sender)

    def stop(self) -> None:
        for part in reversed(self._started):
            part.stop()
        self._started.clear()
        self.service.close()
        if self.worker is not None:
            self.worker.release_all()
        for part in self._metrics:
            if isinstance(part, metrics.StoreCollector):
                metrics.unregister(part)
            else:
                part.shutdown()
        self._metrics.clear()
        self.sessions.engine.dispose()


def serve_metrics(settings: Settings):
    """GET /metrics on ``metrics_host:metrics_port`` in a thread; returns the HTTP server."""
    server, _thread = metrics.start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return server


def build_runtime(
    settings: Settings, *, run_engines: bool = True, callbacks: bool = True
) -> Runtime:
    """The embedded layout by default: in-process workers, local files, SQLite."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sessions = open_store(settings)
    storage = build_storage(settings)
    lifecycle = Lifecycle(settings, sessions, storage)
    worker = None
    run_here = run_engines and settings.workers > 0 and settings.dispatcher == "inprocess"
    if run_here:
        from .engines.registry import build_registry
        from .worker import Worker

        registry = build_registry(settings)
        catalog = registry.catalog
        worker = Worker(settings, lifecycle, registry, storage, observer=stage_observer(settings))
    else:
        from .engines.registry import build_catalog

        catalog = build_catalog(settings)
    dispatcher = build_dispatcher(settings, lifecycle, worker)
    service = TaskService(settings, sessions, catalog, lifecycle, dispatcher)
    sender = CallbackSender(settings, sessions) if callbacks else None
    if sender is not None:
        lifecycle.on_callback = sender.wake
    return Runtime(
        settings=settings,
        sessions=sessions,
        storage=storage,
        catalog=catalog,
        lifecycle=lifecycle,
        dispatcher=dispatcher,
        service=service,
        sender=sender,
        worker=worker,
        accounts=AccountCache(sessions),
    )


def build_dispatcher(settings: Settings, lifecycle: Lifecycle, worker) -> Dispatcher:
    sweep = max(min(settings.lease_seconds / 2, 10.0), 0.5)

    def stale():
        return lifecycle.stale_task_ids(submitted_older_than_ms=int(sweep * 2000))

    if settings.dispatcher == "celery":
        from .dispatch.celery import CeleryDispatcher

        return CeleryDispatcher(settings, stale=stale, sweep_seconds=sweep)
    from .dispatch.inprocess import InProcessDispatcher

    return InProcessDispatcher(
        worker.run if worker else (lambda task_id: None),
        workers=settings.workers if worker else 0,
        stale=stale,
        sweep_seconds=sweep,
        grace_seconds=settings.shutdown_grace_seconds,
    )


def stage_observer(settings: Settings):
    """What times the worker's stages: Prometheus histograms, unless metrics are off."""
    return metrics.StageMetrics() if settings.metrics else None


@dataclass
class WorkerProcess:
    """The parts of a scale-out worker process (`openkling worker`): no API, no sender."""

    settings: Settings
    sessions: Sessions
    storage: Storage
    lifecycle: Lifecycle
    registry: object
    worker: object
    models: list[str]


def build_worker_process(settings: Settings, models: list[str], *, owner: str) -> WorkerProcess:
    """Engines for ``models`` only, the store, storage and a Worker; callbacks are sent by the
    API processes (they hold the outbox sender)."""
    from .engines.registry import build_registry
    from .worker import Worker

    registry = build_registry(settings, models=models)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sessions = open_store(settings)
    storage = build_storage(settings)
    lifecycle = Lifecycle(settings, sessions, storage)
    worker = Worker(
        settings, lifecycle, registry, storage, owner=owner, observer=stage_observer(settings)
    )
    return WorkerProcess(settings, sessions, storage, lifecycle, registry, worker, models)
