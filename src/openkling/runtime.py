"""Assembly: build the store, storage, engines, dispatcher and services from one Settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http.server import HTTPServer
from typing import TYPE_CHECKING

from .config import Settings
from .datadir import DataDirLock
from .dispatch.base import Dispatcher
from .domain.catalog import Catalog
from .observability import metrics
from .storage.base import Storage
from .store.db import Sessions, make_engine, upgrade
from .tasks.accounts import Credentials
from .tasks.callbacks import CallbackSender
from .tasks.lifecycle import Lifecycle
from .tasks.retention import RetentionSweeper
from .tasks.service import TaskService

if TYPE_CHECKING:  # built only where engines run (imported there, on demand)
    from .engines.registry import EngineRegistry
    from .worker import Worker
    from .worker.stages import WorkerObserver

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
    accounts: Credentials
    sender: CallbackSender | None = None
    retention: RetentionSweeper | None = None
    worker: Worker | None = None
    datadir_lock: DataDirLock | None = None  # held while in-process workers run here
    _started: list[Dispatcher | CallbackSender | RetentionSweeper] = field(default_factory=list)
    _metrics: list[metrics.StoreCollector | HTTPServer] = field(default_factory=list)

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
        if self.retention is not None:
            self.retention.start()
            self._started.append(self.retention)

    def stop(self) -> None:
        for part in reversed(self._started):
            part.stop()
        self._started.clear()
        self.service.close()
        if self.worker is not None:
            self.worker.release_all()
        for exporter in self._metrics:
            if isinstance(exporter, metrics.StoreCollector):
                metrics.unregister(exporter)
            else:
                exporter.shutdown()
        self._metrics.clear()
        self.sessions.engine.dispose()
        if self.datadir_lock is not None:
            self.datadir_lock.release()
            self.datadir_lock = None


def serve_metrics(settings: Settings) -> HTTPServer:
    """GET /metrics on ``metrics_host:metrics_port`` in a thread; returns the HTTP server."""
    server, _thread = metrics.start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return server


def build_runtime(
    settings: Settings, *, run_engines: bool = True, callbacks: bool = True
) -> Runtime:
    """The embedded layout by default: in-process workers, local files, SQLite.

    A process that runs in-process workers takes the data dir's lock (``DataDirInUse`` if a
    live server holds it); the tasks its dead predecessor was running are taken at once.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_here = run_engines and settings.workers > 0 and settings.dispatcher == "inprocess"
    lock: DataDirLock | None = None
    if run_here:
        url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
        lock = DataDirLock.acquire(settings.data_dir, url=url)
    try:
        sessions = open_store(settings)
        storage = build_storage(settings)
        lifecycle = Lifecycle(settings, sessions, storage)
        worker = None
        if lock is not None:  # engines run here
            from .engines.registry import build_registry
            from .worker import Worker

            registry = build_registry(settings)
            catalog = registry.catalog
            worker = Worker(
                settings,
                lifecycle,
                registry,
                storage,
                owner=lock.owner,
                observer=stage_observer(settings),
            )
            _take_over(lifecycle, lock)
        else:
            from .engines.registry import build_catalog

            catalog = build_catalog(settings)
        dispatcher = build_dispatcher(settings, lifecycle, worker)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
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
        retention=RetentionSweeper(settings, sessions, storage),
        worker=worker,
        accounts=Credentials(sessions),
        datadir_lock=lock,
    )


def _take_over(lifecycle: Lifecycle, lock: DataDirLock) -> None:
    """The lock was free, so its last holder is dead: its running tasks are ours now."""
    if not lock.previous_owner:
        return
    taken = lifecycle.take_over(lock.previous_owner)
    if taken:
        log.warning(
            "the last server on this data dir (pid %s) stopped without handing back %d "
            "running task(s); taking them now: %s",
            (lock.previous or {}).get("pid"),
            len(taken),
            ", ".join(taken),
        )


def build_dispatcher(settings: Settings, lifecycle: Lifecycle, worker: Worker | None) -> Dispatcher:
    sweep = max(min(settings.lease_seconds / 2, 10.0), 0.5)
    if settings.dispatcher == "celery":
        from .dispatch.celery import CeleryDispatcher

        def stale():
            return lifecycle.stale_task_ids(submitted_older_than_ms=int(sweep * 2000))

        return CeleryDispatcher(settings, stale=stale, sweep_seconds=sweep)
    from .dispatch.inprocess import InProcessDispatcher

    def run_next(loaded: str | None) -> str | None:
        return worker.run_next(loaded=loaded) if worker else None

    return InProcessDispatcher(
        run_next,
        workers=settings.workers if worker else 0,
        sweep_seconds=sweep,
        grace_seconds=settings.shutdown_grace_seconds,
    )


def stage_observer(settings: Settings) -> WorkerObserver | None:
    """What times the worker's stages: Prometheus histograms, unless metrics are off."""
    return metrics.StageMetrics() if settings.metrics else None


@dataclass
class WorkerProcess:
    """The parts of a scale-out worker process (`openkling worker`): no API, no sender."""

    settings: Settings
    sessions: Sessions
    storage: Storage
    lifecycle: Lifecycle
    registry: EngineRegistry
    worker: Worker
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
