"""Request ids: one per request, in every response (body and header) and every log line."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import logs
from ..contract import success


def request_id_of(request) -> str:
    return getattr(request.state, "request_id", None) or logs.request_id.get() or "-"


def ok(data: Any, request) -> JSONResponse:
    """The success envelope, rendered directly (the data is already plain JSON types)."""
    return JSONResponse(success(data, request_id_of(request)))


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead): sets the id and the X-Request-Id header,
    and treats a trailing slash as absent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):  # `/v1/videos/text2video/` as the same route:
            scope = dict(scope, path=path.rstrip("/") or "/")  # no redirect a POST could lose
        rid = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = rid
        token = logs.request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)
