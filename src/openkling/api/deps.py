"""FastAPI dependencies: the runtime, the authenticated account, the server's public root."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from .. import logs
from ..errors import ServiceUnavailable
from ..runtime import Runtime
from ..tasks.accounts import Principal
from .auth import authenticate

T = TypeVar("T")

# These are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in the thread
# pool, one hop per dependency per request. They do no blocking work on the hot path (the
# account cache answers from memory; a miss is one short indexed read).


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# get_account and public_base read the runtime themselves rather than depend on RuntimeDep:
# each sub-dependency is another solve on every request.
async def get_account(request: Request) -> Principal:
    rt: Runtime = request.app.state.runtime
    if rt.settings.maintenance or getattr(request.app.state, "draining", False):
        raise ServiceUnavailable("openkling is in maintenance; try again later")
    account = authenticate(
        rt.accounts, request.headers.get("authorization"), rt.settings.jwt_leeway_seconds
    )
    logs.account.set(account.id)  # this request's own context (one task per request)
    return account


AccountDep = Annotated[Principal, Depends(get_account)]


async def public_base(request: Request) -> str:
    configured = request.app.state.runtime.settings.public_base_url
    return configured or str(request.base_url).rstrip("/")


BaseUrlDep = Annotated[str, Depends(public_base)]


async def read(rt: Runtime, fn: Callable[..., T], *args, **kwargs) -> T:
    """Run a short store read. On SQLite (a local file: tens of microseconds) it runs right
    here on the event loop, which beats handing it to a thread and back; a database across
    the network is read from the thread pool, so its latency never stalls the loop."""
    if rt.sessions.engine.dialect.name == "sqlite":
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)
