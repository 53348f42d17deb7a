"""FastAPI dependencies: the runtime, the authenticated account, the server's public root."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from ..errors import ServiceUnavailable, TokenInvalid
from ..hosts import public_base as public_root
from ..hosts import root_of
from ..runtime import Runtime
from ..tasks.accounts import Principal
from .auth import authenticate

# These are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in the thread
# pool, one hop per dependency per request. They do little blocking work on the hot path (the
# credentials check is one short indexed read, so a revoked key is refused at once).


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# Declares the scheme in the OpenAPI document (every route that authenticates shows it);
# the token itself is checked below, with Kling's codes.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="A Kling JWT (HS256, iss = access key) or the secret key as an API key",
)


async def get_account(
    request: Request, rt: RuntimeDep, _: Annotated[object, Depends(bearer)]
) -> Principal:
    if rt.settings.maintenance or getattr(request.app.state, "draining", False):
        raise ServiceUnavailable("openkling is in maintenance; try again later")
    headers = request.headers.getlist("authorization")
    if len(headers) > 1:  # which one counts would be a guess: refuse rather than pick
        raise TokenInvalid(f"send one Authorization header, not {len(headers)}")
    header = headers[0] if headers else None
    return authenticate(rt.accounts, header, rt.settings.jwt_leeway_seconds)


AccountDep = Annotated[Principal, Depends(get_account)]


async def public_base(request: Request, rt: RuntimeDep) -> str:
    # the Host header has passed the edge's allowlist (api/edge.py); no Host: the address
    # the connection arrived on
    host = request.headers.get("host")
    root = root_of(request.url.scheme, host) if host else None
    if root is None:
        return public_root(rt.settings, str(request.base_url))
    return public_root(rt.settings, root + request.scope.get("root_path", ""))


BaseUrlDep = Annotated[str, Depends(public_base)]
