"""Request ids: one per request, in every response (body and header) and every log line."""

from __future__ import annotations

import contextvars
import logging
import uuid
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..contract import success

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def request_id_of(request) -> str:
    return getattr(request.state, "request_id", None) or current_request_id.get()


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
        token = current_request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True
