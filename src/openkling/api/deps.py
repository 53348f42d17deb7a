"""FastAPI dependencies: the runtime, the authenticated account, the server's public root."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..errors import ServiceUnavailable
from ..runtime import Runtime
from ..tasks.accounts import Principal
from .auth import authenticate

# These are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in the thread
# pool, one hop per dependency per request. They do little blocking work on the hot path (the
# credentials check is one short indexed read, so a revoked key is refused at once).


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_account(request: Request, rt: RuntimeDep) -> Principal:
    if rt.settings.maintenance or getattr(request.app.state, "draining", False):
        raise ServiceUnavailable("openkling is in maintenance; try again later")
    return authenticate(
        rt.accounts, request.headers.get("authorization"), rt.settings.jwt_leeway_seconds
    )


AccountDep = Annotated[Principal, Depends(get_account)]


async def public_base(request: Request, rt: RuntimeDep) -> str:
    return rt.settings.public_base_url or str(request.base_url).rstrip("/")


BaseUrlDep = Annotated[str, Depends(public_base)]
