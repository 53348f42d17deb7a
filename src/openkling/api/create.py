"""The HTTP side of every create: credentials, the body, the door's parse, then
``TaskService.submit``. A door's create route is one call to ``create_task``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ..domain.request import Parsed
from ..domain.task import StoredTask
from ..errors import OpenklingError, TokenInvalid
from ..net.image_fetch import ImagePool
from ..runtime import Runtime
from ..tasks.accounts import Principal
from ..tasks.group_commit import KeyChanged
from .body import json_body
from .deps import account_of, cached_account_of, read

Parse = Callable[[object, Runtime], Parsed]
# a parse that reads the account's own tasks (video-extend: the video to continue)
AccountParse = Callable[[object, Runtime, Principal], Parsed]
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
    parse: Parse | None = None,
    parse_for: AccountParse | None = None,
    read_body: BodyReader = read_json,
    blocking: bool = False,
) -> StoredTask:
    """Authenticate, read and parse the body, and submit the task through ``family``'s door.

    The credentials come from this host's cache when it has them, unchecked: the create's own
    transaction checks the key, and a revoked or rotated key is answered 401 (before any other
    error, as a freshly checked key would be). ``blocking=True`` runs the parse on the image
    pool (it fetches or decodes images), never on the request threads; a full pool, or an
    account holding its share of it, is answered 429 / 1302 at once. ``parse_for`` in place
    of ``parse``: a parse that is given the account too, to read its own tasks (run in the
    thread pool, or on the image pool with ``blocking=True``)."""
    rt: Runtime = request.app.state.runtime
    account = cached_account_of(request)
    checked = account is None
    if account is None:
        account = await read(rt, account_of, request)  # on the loop only on SQLite
    try:
        body = await read_body(request, rt)
        pool: ImagePool = request.app.state.image_pool
        if parse_for is not None:
            if blocking:
                parsed = await pool.run(account.id, parse_for, body, rt, account)
            else:
                parsed = await run_in_threadpool(parse_for, body, rt, account)
        elif parse is not None:
            parsed = await pool.run(account.id, parse, body, rt) if blocking else parse(body, rt)
        else:
            raise TypeError("create_task needs parse or parse_for")
        return await rt.service.submit_async(account, parsed.request, parsed.inputs, family=family)
    except KeyChanged:  # revoked or rotated since cached: the full check gives the answer
        rt.accounts.forget(account)
        await read(rt, account_of, request)
        raise TokenInvalid("API key is not valid") from None
    except OpenklingError:
        if not checked:  # a revoked key is answered 401 before anything else
            await read(rt, account_of, request)
        raise
