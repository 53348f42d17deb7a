"""The FastAPI application: routers, error envelope, request ids, runtime lifespan."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI

from .. import __version__
from ..config import Settings
from ..net.image_fetch import ImagePool
from ..runtime import Runtime, build_runtime
from . import errors, openapi
from .auth import Authenticator
from .context import RequestIdMiddleware
from .edge import EdgeGuard
from .observe import HttpMetrics
from .observe import router as metrics_router
from .routes import (
    account,
    effects,
    events,
    health,
    image2video,
    images,
    kling2026_create,
    kling2026_tasks,
    media,
    models,
    multi_image2video,
    openai_videos,
    studio,
    task_request,
    text2video,
    video_extend,
    webhook_secrets,
)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """An app that owns its runtime (built from ``settings`` at startup) or uses ``runtime``."""
    if runtime is not None:
        settings = runtime.settings
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        app.state.auth = Authenticator(
            rt.accounts, rt.settings.jwt_leeway_seconds, rt.settings.jwt_max_lifetime_seconds
        )
        # Handlers are short database calls: a few threads beat many that fight over the GIL.
        to_thread.current_default_thread_limiter().total_tokens = rt.settings.api_threads
        app.state.image_pool = ImagePool.from_settings(rt.settings)  # image parses: not here
        app.state.probe_limiter = CapacityLimiter(health.PROBE_THREADS)  # /readyz: nor here
        app.state.draining = False
        rt.start()
        # Everything built so far lives as long as the server: out of the collector's sight,
        # a full collection (which runs every few thousand requests) stops scanning it.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        try:
            yield
        finally:
            app.state.draining = True
            rt.stop()

    app = FastAPI(
        title="openkling",
        version=__version__,
        description="A self-hosted text-to-video service that speaks the Kling video API.",
        lifespan=lifespan,
    )
    app.add_middleware(EdgeGuard, settings=settings)
    # added last: runs first, so every refusal has an id (and is counted, with metrics on)
    app.add_middleware(RequestIdMiddleware, observe=HttpMetrics() if settings.metrics else None)
    if settings.metrics and not settings.metrics_port:  # else on their own port
        app.include_router(metrics_router)
    errors.install(app)
    openapi.install(app)
    # /v1/videos is shared: OpenAI's routes are /v1/videos and /v1/videos/video_{id}..., and
    # every other name under it is Kling's (api/doors.py), whatever the order here
    kling = (events, task_request, text2video, image2video, video_extend, multi_image2video)
    for module in (*kling, effects, images, models, openai_videos, account, media, health):
        app.include_router(module.router)
    app.include_router(effects.scenes_router)
    # Kling's 2026 API: the model in the path, /tasks; and the account's webhook secrets
    for module in (kling2026_create, kling2026_tasks, webhook_secrets):
        app.include_router(module.router)
    studio.mount(app)
    return app
