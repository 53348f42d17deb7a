"""FastAPI dependencies: the runtime, the authenticated account, the server's public root."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..errors import ServiceUnavailable, TokenInvalid
from ..net.hosts import root_of
from ..observability import logs
from ..runtime import Runtime
from ..tasks.accounts import Principal
from .auth import Authenticator

T = TypeVar("T")

# These are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in the thread
# pool, one hop per dependency per request. They do little blocking work on the hot path (the
# credentials check is one short indexed read, so a revoked key is refused at once). The hot
# routes (create, get) call ``account_of`` and ``base_url_of`` directly: solving dependencies
# costs more than the work they do.


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
# for routes that authenticate without the dependency
BEARER_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]


def _auth_header(request: Request) -> str | None:
    rt: Runtime = request.app.state.runtime
    if rt.settings.maintenance or getattr(request.app.state, "draining", False):
        raise ServiceUnavailable("openkling is in maintenance; try again later")
    headers = request.headers.getlist("authorization")
    if len(headers) > 1:  # which one counts would be a guess: refuse rather than pick
        raise TokenInvalid(f"send one Authorization header, not {len(headers)}")
    return headers[0] if headers else None


def account_of(request: Request) -> Principal:
    """The authenticated account of ``request``, or the auth error to answer with."""
    auth: Authenticator = request.app.state.auth
    account = auth.authenticate(_auth_header(request))
    logs.account.set(account.id)  # this request's own context (one task per request)
    return account


def cached_account_of(request: Request) -> Principal | None:
    """``account_of`` from this host's caches alone (no store access, so fine on the event
    loop), or None when they do not hold it. Its key is NOT re-checked: the caller re-checks
    it in the statement that serves the request, and calls ``account_of`` for the answer
    when that finds the key revoked or rotated, or before answering with any other error."""
    auth: Authenticator = request.app.state.auth
    account = auth.authenticate_cached(_auth_header(request))
    if account is not None:
        logs.account.set(account.id)
    return account


async def get_account(request: Request, _: Annotated[object, Depends(bearer)]) -> Principal:
    return account_of(request)


AccountDep = Annotated[Principal, Depends(get_account)]


def base_url_of(request: Request) -> str:
    """The root URLs in responses start with: the configured public URL, else the request's
    own (its Host header has passed the edge's allowlist, api/edge.py; no Host: the address
    the connection arrived on)."""
    settings: Settings = request.app.state.runtime.settings
    if settings.public_base_url:
        return settings.public_base
    host = request.headers.get("host")
    root = root_of(request.url.scheme, host) if host else None
    if root is None:
        return str(request.base_url).rstrip("/")
    return (root + request.scope.get("root_path", "")).rstrip("/")


async def public_base(request: Request) -> str:
    return base_url_of(request)


BaseUrlDep = Annotated[str, Depends(public_base)]


async def read(rt: Runtime, fn: Callable[..., T], *args, **kwargs) -> T:
    """Run a short store read. On SQLite (a local file: tens of microseconds) it runs right
    here on the event loop, which beats handing it to a thread and back; a database across
    the network is read from the thread pool, so its latency never stalls the loop."""
    if rt.sessions.engine.dialect.name == "sqlite":
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)
