"""A scripted engine and a small in-process task world for the worker's tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from openkling.config import Settings
from openkling.domain.catalog import default_catalog
from openkling.domain.request import GenerationRequest
from openkling.engines.base import Capabilities, RenderRequest
from openkling.engines.procedural_audio import ProceduralAudio
from openkling.engines.registry import EngineRegistry
from openkling.errors import GenerationCancelled
from openkling.runtime import build_storage, open_store
from openkling.store.models import Account, Task
from openkling.tasks.accounts import Principal, create_account
from openkling.tasks.lifecycle import Lifecycle
from openkling.tasks.service import TaskService
from openkling.worker import Worker


class ScriptedEngine:
    """Renders flat frames whose grey level is the frame index; ``script(index)`` runs before
    each frame (raise, cancel, steal the lease ...)."""

    name = "scripted"
    capabilities = Capabilities()

    def __init__(self, script: Callable[[int, RenderRequest], None] | None = None) -> None:
        self.script = script
        self.requests: list[RenderRequest] = []

    def output_size(self, mode: str, aspect_ratio: str) -> tuple[int, int]:
        return {"16:9": (64, 36), "9:16": (36, 64), "1:1": (48, 48)}[aspect_ratio]

    def frame_plan(self, duration_s: float) -> tuple[int, float]:
        return int(duration_s * 4) + 1, 4.0  # a "4k+1" rule at 4 fps

    def canvas_size(self, width: int, height: int) -> tuple[int, int]:
        return width + width % 2, height + height % 2

    def render(self, request: RenderRequest, *, on_step=None, should_stop=None):
        self.requests.append(request)

        def frames():
            for index in range(request.num_frames):
                if should_stop is not None and should_stop():
                    raise GenerationCancelled(f"stopped at frame {index}")
                if self.script is not None:
                    self.script(index, request)
                if on_step is not None:
                    on_step(index + 1, request.num_frames)
                level = (index * 8 + request.seed) % 256
                yield np.full((request.height, request.width, 3), level, np.uint8)

        return frames()


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

    def create(self, **fields) -> str:
        request = GenerationRequest(prompt="a quiet harbour", **fields)
        return self.service.submit(self.principal, request, family="text2video").id

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
