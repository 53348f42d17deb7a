"""/v1/videos/effects: a scene played over one or two pictures; get, list, cancel. And
``GET /v1/effects`` (openkling's): the scenes offered, with their kind and price."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...contract.kling.effects import EffectsRequest, parse_effects
from ...domain.effects import EffectsCatalog, load_effects
from ...domain.request import Parsed
from ...net.image_fetch import image_loader
from ...runtime import Runtime
from ..context import ok
from ..create import create_task, read_json_with_images
from ..deps import BEARER_SECURITY, AccountDep, RuntimeDep, base_url_of
from ..openapi import TaskEnvelope, errors
from ..openapi import json_body as body_doc
from .task_reads import add_task_reads, present

FAMILY = "effects"

router = APIRouter(prefix="/v1/videos/effects", tags=["effects"])
scenes_router = APIRouter(tags=["effects"])


def effects_of(rt: Runtime) -> EffectsCatalog:
    return load_effects(rt.settings.effects_file)


def _parse(body: object, rt: Runtime) -> Parsed:
    return parse_effects(
        body,
        effects_of(rt),
        rt.catalog,
        image_loader(rt.settings),
        url_allow=rt.settings.url_allowlist,
    )


@router.post(
    "",
    summary="Create a video effect (a scene over one picture, or two side by side)",
    response_model=TaskEnvelope,
    responses=errors(402, 403, 429),
    openapi_extra={**body_doc(EffectsRequest), "security": BEARER_SECURITY},
)
async def create(request: Request):
    task = await create_task(
        request, family=FAMILY, parse=_parse, read_body=read_json_with_images, blocking=True
    )
    return ok(present(request.app.state.runtime, task, base_url_of(request)), request)


add_task_reads(router, FAMILY)


@scenes_router.get("/v1/effects", summary="The effect scenes offered (openkling extension)")
async def list_scenes(request: Request, rt: RuntimeDep, account: AccountDep):
    return ok([scene.public() for scene in effects_of(rt).scenes.values()], request)
