"""The HTTP side of every create: credentials, the body, the door's parse, then
``TaskService.submit``. A door's create route is one call to ``create_task``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ..domain.request import Parsed
from ..domain.task import StoredTask
from ..errors import OpenklingError, TokenInvalid
from ..runtime import Runtime
from ..tasks.group_commit import KeyChanged
from .body import json_body
from .deps import account_of, cached_account_of, read

Parse = Callable[[object, Runtime], Parsed]
BodyReader = Callable[[Request, Runtime], Awaitable[object]]


async def read_json(request: Request, rt: Runtime) -> object:
    return await json_body(request, rt.settings.max_body_bytes)


async def read_json_with_images(request: Request, rt: Runtime) -> object:
    """A JSON body that may carry base64 images: the larger cap."""
    return await json_body(request, rt.settings.image_body_bytes)


async def create_task(
    request: Request,
    *,
    family: str,
    parse: Parse,
    read_body: BodyReader = read_json,
    blocking: bool = False,
) -> StoredTask:
    """Authenticate, read and parse the body, and submit the task through ``family``'s door.

    The credentials come from this host's cache when it has them, unchecked: the create's own
    transaction checks the key, and a revoked or rotated key is answered 401 (before any other
    error, as a freshly checked key would be). ``blocking=True`` runs ``parse`` in the thread
    pool (it fetches or decodes images)."""
    rt: Runtime = request.app.state.runtime
    account = cached_account_of(request)
    checked = account is None
    if account is None:
        account = await read(rt, account_of, request)  # on the loop only on SQLite
    try:
        body = await read_body(request, rt)
        parsed = await run_in_threadpool(parse, body, rt) if blocking else parse(body, rt)
        return await rt.service.submit_async(account, parsed.request, parsed.inputs, family=family)
    except KeyChanged:  # revoked or rotated since cached: the full check gives the answer
        rt.accounts.forget(account)
        await read(rt, account_of, request)
        raise TokenInvalid("API key is not valid") from None
    except OpenklingError:
        if not checked:  # a revoked key is answered 401 before anything else
            await read(rt, account_of, request)
        raise
