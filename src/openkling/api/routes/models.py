"""/v1/models: each model's modes, durations, ratios, audio, camera, inputs and prices."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..context import ok
from ..deps import AccountDep, RuntimeDep

router = APIRouter(tags=["models"])


@router.get("/v1/models", summary="Models this server offers, from the catalog it validates with")
async def list_models(request: Request, rt: RuntimeDep, account: AccountDep):
    models = rt.catalog.public_models()
    allowed = account.allowed_models
    for model in models:  # a key limited to some models sees which ones it may use
        model["allowed"] = not allowed or model["model_name"] in allowed
    return ok(models, request)


@router.get(
    "/v1/images/models",
    summary="Image models of /v1/images/generations: sizes, n, and credits per picture",
)
async def list_image_models(request: Request, rt: RuntimeDep, account: AccountDep):
    models = rt.catalog.public_images()
    allowed = account.allowed_models
    for model in models:
        model["allowed"] = not allowed or model["model_name"] in allowed
    return ok(models, request)
