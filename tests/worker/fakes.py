"""A small in-process task world for the worker's tests (the scripted engine lives in
``support.engines``)."""

from __future__ import annotations

from dataclasses import dataclass

from openkling.config import Settings
from openkling.domain.catalog import default_catalog
from openkling.domain.request import GenerationRequest
from openkling.engines.procedural_audio import ProceduralAudio
from openkling.engines.registry import EngineRegistry
from openkling.runtime import build_storage, open_store
from openkling.store.models import Account, Task
from openkling.tasks.accounts import Principal, create_account
from openkling.tasks.lifecycle import Lifecycle
from openkling.tasks.service import TaskService
from openkling.worker import Worker
from support.engines import ScriptedEngine

__all__ = ["ScriptedEngine", "World", "make_world"]


class _NoDispatch:
    def submit(self, task_id: str, model_name: str) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def check(self) -> None:
        pass


@dataclass
class World:
    settings: Settings
    lifecycle: Lifecycle
    service: TaskService
    worker: Worker
    engine: ScriptedEngine
    principal: Principal

    def create(self, principal: Principal | None = None, **fields) -> str:
        request = GenerationRequest(prompt="a quiet harbour", **fields)
        return self.service.submit(principal or self.principal, request, family="text2video").id

    def account(self, name: str = "tenant", *, priority: float = 1.0) -> Principal:
        """Another tenant, with its fair-claim weight."""
        with self.lifecycle.sessions.begin() as s:
            account = create_account(s, name=name, credits_amount=10_000)
            account.priority = priority
            s.flush()
            return Principal(
                id=account.id,
                access_key=account.access_key,
                secret_key=account.secret_key,
                allowed_models=None,
                created_at=account.created_at,
            )

    def task(self, task_id: str) -> Task:
        with self.lifecycle.sessions() as s:
            return s.get(Task, task_id)

    def balance(self) -> int:
        with self.lifecycle.sessions() as s:
            return s.get(Account, self.principal.id).balance_milli


def make_world(tmp_path, engine: ScriptedEngine, **settings) -> World:
    config = Settings(data_dir=tmp_path, x264_preset="ultrafast", **settings)
    sessions = open_store(config)
    storage = build_storage(config)
    lifecycle = Lifecycle(config, sessions, storage)
    catalog = default_catalog()
    registry = EngineRegistry(catalog=catalog)
    for name in catalog.names:
        registry.videos[name] = engine
        registry.audios[name] = ProceduralAudio()
    service = TaskService(config, sessions, catalog, lifecycle, _NoDispatch())
    with sessions.begin() as s:
        account = create_account(s, name="t", credits_amount=1000)
        principal = Principal(
            id=account.id,
            access_key=account.access_key,
            secret_key=account.secret_key,
            allowed_models=None,
            created_at=account.created_at,
        )
    worker = Worker(config, lifecycle, registry, storage)
    return World(config, lifecycle, service, worker, engine, principal)
