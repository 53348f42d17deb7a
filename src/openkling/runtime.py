"""Assembly: build the store, storage, engines, dispatcher and services from one Settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .catalog import Catalog
from .config import Settings
from .dispatch.base import Dispatcher
from .storage.base import Storage
from .store.db import Sessions, make_engine, upgrade
from .tasks.accounts import Credentials
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
    accounts: Credentials | None = None
    sender: CallbackSender | None = None
    worker: object | None = None
    _started: list = field(default_factory=list)

    def start(self) -> None:
        self.dispatcher.start()
        self._started.append(self.dispatcher)
        if self.sender is not None:
            self.sender.start()
            self._started.append(self.sender)

    def stop(self) -> None:
        for part in reversed(self._started):
            part.stop()
        self._started.clear()
        if self.worker is not None:
            self.worker.release_all()
        self.sessions.engine.dispose()


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
        worker = Worker(settings, lifecycle, registry, storage)
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
        accounts=Credentials(sessions),
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
