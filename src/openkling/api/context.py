"""Request ids: one per request, in every response (body and header) and every log line."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..contract.kling import success
from ..observability import logs

_random = random.Random()  # seeded from the OS once: a syscall per request costs more than this


def new_request_id() -> str:
    """A random UUID (version 4 layout), unique per request; not a secret."""
    h = f"{_random.getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62) | (4 << 76) | (2 << 62):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def request_id_of(request) -> str:
    return getattr(request.state, "request_id", None) or logs.request_id.get() or "-"


def ok(data: Any, request) -> JSONResponse:
    """The success envelope, rendered directly (the data is already plain JSON types)."""
    return JSONResponse(success(data, request_id_of(request)))


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead): sets the id and the X-Request-Id header,
    treats a trailing slash as absent, and hands each request's outcome to ``observe`` (the
    HTTP metrics) when given: one wrapper around ``send`` for both, not one each."""

    def __init__(self, app: ASGIApp, observe: Callable[[Scope, int, float], None] | None = None):
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):  # `/v1/videos/text2video/` as the same route:
            scope = dict(scope, path=path.rstrip("/") or "/")  # no redirect a POST could lose
        rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        token = logs.request_id.set(rid)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)
            if self.observe is not None:
                self.observe(scope, status, time.perf_counter() - started)
