"""/v1/videos/effects: a scene played over one or two pictures; get, list, cancel. And
``GET /v1/effects`` (openkling's): the scenes offered, with their kind and price."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...contract.kling.effects import parse_effects
from ...domain.effects import EffectsCatalog, load_effects
from ...runtime import Runtime
from ..body import json_body
from ..context import ok
from ..deps import AccountDep, BaseUrlDep, RuntimeDep
from ..openapi import EffectsRequest, TaskEnvelope, errors
from ..openapi import json_body as body_doc
from .image2video import _loader
from .inputs import create_with_inputs
from .task_reads import add_task_reads, present

FAMILY = "effects"

router = APIRouter(prefix="/v1/videos/effects", tags=["effects"])
scenes_router = APIRouter(tags=["effects"])


def effects_of(rt: Runtime) -> EffectsCatalog:
    return load_effects(rt.settings.effects_file)


def _create(rt: Runtime, account, body: object):
    parsed = parse_effects(
        body, effects_of(rt), rt.catalog, _loader(rt), url_allow=rt.settings.url_allowlist
    )
    return create_with_inputs(rt, account, parsed, family=FAMILY)


@router.post(
    "",
    summary="Create a video effect (a scene over one picture, or two side by side)",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra=body_doc(EffectsRequest),
)
async def create(request: Request, rt: RuntimeDep, account: AccountDep, base_url: BaseUrlDep):
    body = await json_body(request, rt.settings.image_body_bytes)
    task = await run_in_threadpool(_create, rt, account, body)
    return ok(present(rt, task, base_url), request)


add_task_reads(router, FAMILY)


@scenes_router.get("/v1/effects", summary="The effect scenes offered (openkling extension)")
async def list_scenes(request: Request, rt: RuntimeDep, account: AccountDep):
    return ok([scene.public() for scene in effects_of(rt).scenes.values()], request)
