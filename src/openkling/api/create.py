"""TEMPORARY stand-in for the one create path (replaced by main's api/create.py at merge)."""

from __future__ import annotations

import logging

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from .body import json_body
from .deps import account_of, read

log = logging.getLogger(__name__)


async def create_task(request: Request, *, family, parse, body_limit=None, blocking=False):
    rt = request.app.state.runtime
    account = await read(rt, account_of, request)
    body = await json_body(request, body_limit or rt.settings.max_body_bytes)

    def run():
        parsed = parse(body, rt)
        written = []
        try:
            for key, image in parsed.files.items():
                rt.storage.put_bytes(key, image.data, image.content_type)
                written.append(key)
            return rt.service.create(account, parsed.request, family=family)
        except BaseException:
            for key in written:
                rt.storage.delete(key)
            raise

    return await run_in_threadpool(run)
