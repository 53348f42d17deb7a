"""The one table from error class to HTTP status, the one place error responses are rendered,
and the handlers that route every failure there (no exception text ever reaches a client)."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from .. import errors as e
from ..contract.kling import failure
from ..contract.model import message_of
from ..contract.openai import errors as openai_errors
from .context import request_id_of
from .doors import speaks_openai

log = logging.getLogger(__name__)

HTTP_STATUS: dict[type[e.OpenklingError], int] = {
    e.AuthError: 401,
    e.InsufficientCredits: 402,
    e.ModelPermissionDenied: 403,
    e.MediaLinkInvalid: 403,
    e.MalformedRequest: 400,
    e.RequestTimeout: 408,
    e.InvalidParameter: 400,
    e.EndpointNotFound: 404,
    e.MethodNotAllowed: 405,
    e.TaskNotFound: 404,
    e.PolicyRefused: 400,
    e.RateLimited: 429,
    e.TooManyConcurrentTasks: 429,
    e.InternalError: 500,
    e.ServiceUnavailable: 503,
}

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

ErrorBody = Callable[[e.OpenklingError, str], dict[str, Any]]


def kling_body(exc: e.OpenklingError, request_id: str) -> dict[str, Any]:
    """Kling's error envelope: ``{"code", "message", "request_id"}``, no ``data``."""
    return failure(exc.code, exc.message, request_id)


@dataclass(frozen=True)
class ErrorShape:
    """How one door writes its errors: the paths it serves, the body for an error (given the
    request id), and the pydantic model of that body for the OpenAPI document."""

    matches: Callable[[str], bool]
    body: ErrorBody
    model: type[BaseModel]
    statuses: dict[type[e.OpenklingError], int] = field(default_factory=dict)  # overrides
    no_retry: tuple[type[e.OpenklingError], ...] = ()  # answered with x-should-retry: false


def _openai_body(exc: e.OpenklingError, request_id: str) -> dict[str, Any]:
    return openai_errors.error_body(exc)


# Kling's envelope is the default; a door with its own error format has its shape here, on the
# paths that are its own (api/doors.py). The first match wins.
ERROR_SHAPES: tuple[ErrorShape, ...] = (
    ErrorShape(
        matches=speaks_openai,
        body=_openai_body,
        model=openai_errors.OpenAIErrorEnvelope,
        statuses=openai_errors.STATUSES,
        no_retry=openai_errors.NO_RETRY,
    ),
)


def shape_for(path: str) -> ErrorShape | None:
    return next((shape for shape in ERROR_SHAPES if shape.matches(path)), None)


def status_of(exc: e.OpenklingError, overrides: dict | None = None) -> int:
    table = {**HTTP_STATUS, **(overrides or {})}
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return 500


def render(
    path: str, exc: e.OpenklingError, request_id: str, *, close: bool = False
) -> JSONResponse:
    """The response for ``exc`` on ``path``: status from the table, body in the door's shape.

    ``close`` asks the server to close the connection after it (the client misbehaved); a
    5xx always does, so a client on keep-alive sees the answer, then a clean close.
    """
    shape = shape_for(path)
    status = status_of(exc, shape.statuses if shape else None)
    headers: dict[str, str] = {}
    if shape and isinstance(exc, shape.no_retry):  # waiting would not help
        headers["x-should-retry"] = "false"
    elif status in (429, 503):
        headers["Retry-After"] = "1"
    if isinstance(exc, e.MethodNotAllowed):
        headers["Allow"] = ", ".join(exc.allow)
    if close or status >= 500:  # a 5xx ends the connection cleanly: never a reset instead
        headers["Connection"] = "close"
    body = shape.body(exc, request_id) if shape else kling_body(exc, request_id)
    return JSONResponse(body, status_code=status, headers=headers)


DB_DOWN = "the database is unavailable; retry shortly"
STORAGE_FULL = "storage full: the server cannot write files; retry when space is freed"
STORAGE_DOWN = "the storage is unavailable; retry shortly"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_DBAPI_DOWN = ("OperationalError", "InterfaceError")


def outage_of(exc: BaseException) -> e.ServiceUnavailable | None:
    """The 503 / 5001 for a failure that is an outage of a part (the database unreachable,
    the disk full, the object store down), or None for a fault of the server's own. Waiting
    helps with an outage, so it is answered with ``Retry-After``, never as a 500."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the cause may be wrapped
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE:
            return e.ServiceUnavailable(STORAGE_FULL)
        if isinstance(
            current,
            sa_exc.OperationalError
            | sa_exc.InterfaceError
            | sa_exc.DisconnectionError
            | sa_exc.TimeoutError,
        ):
            return e.ServiceUnavailable(DB_DOWN)
        kind = type(current)
        if kind.__module__.startswith(("psycopg", "sqlite3")) and kind.__name__ in _DBAPI_DOWN:
            return e.ServiceUnavailable(DB_DOWN)  # the driver's own, unwrapped
        if type(current).__module__.startswith(("botocore.", "urllib3.")):
            return e.ServiceUnavailable(STORAGE_DOWN)
        current = current.__cause__ or current.__context__
    return None


def error_response(request: Request, exc: e.OpenklingError) -> JSONResponse:
    return render(request.url.path, exc, request_id_of(request))


def raw_response(path: str, exc: e.OpenklingError, request_id: str) -> bytes:
    """The same response as bytes on the wire, for the server to write itself (a request
    that never reached the app), always closing the connection."""
    response = render(path, exc, request_id, close=True)
    status = response.status_code
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()]
    headers = [*response.raw_headers, (b"x-request-id", request_id.encode())]
    head += [name + b": " + value + b"\r\n" for name, value in headers]
    return b"".join(head) + b"\r\n" + response.body


def allowed_methods(request: Request) -> tuple[str, ...]:
    """Every method some route serves at this path (Starlette's own 405 names only the
    methods of the first route whose path matched)."""
    allowed = []
    for method in HTTP_METHODS:
        scope = dict(request.scope, method=method)
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return tuple(allowed)


def validation_message(exc: RequestValidationError) -> str:
    """Name the field and the rule in our own words (pydantic's text is not the API's): the
    one translation of contract/model.py, past FastAPI's "body" or "query"."""
    first = exc.errors()[0] if exc.errors() else {}
    return message_of(first, skip=1)


def install(app: FastAPI) -> None:
    @app.exception_handler(e.OpenklingError)
    async def _kling(request: Request, exc: e.OpenklingError):
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return error_response(request, e.InvalidParameter(validation_message(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        where = f"{request.method} {request.url.path}"
        if exc.status_code == 404:
            detail = str(exc.detail)  # a route's own reason, or the router's "Not Found"
            reason = f"no such endpoint: {where}" if detail == "Not Found" else detail
            err: e.OpenklingError = e.EndpointNotFound(reason)
        elif exc.status_code == 405:
            allow = allowed_methods(request)
            err = e.MethodNotAllowed(
                f"method {request.method} is not allowed on {request.url.path}; "
                f"allowed: {', '.join(allow)}",
                allow=allow,
            )
        elif exc.status_code < 500:  # a route's own HTTPException: its detail is its text
            err = e.MalformedRequest(str(exc.detail))
        else:
            err = e.InternalError()
        response = error_response(request, err)
        response.status_code = exc.status_code
        return response

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect):
        log.info("client went away before its request body arrived")
        return Response(status_code=400)  # nobody reads it

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):  # apps without the edge guard
        return error_response(request, unexpected(exc))


def unexpected(exc: Exception) -> e.OpenklingError:
    """What to answer for an exception no handler took, logged once: an outage as one line
    (503 / 5001), anything else with its traceback (500 / 5000)."""
    outage = outage_of(exc)
    if outage is not None:
        log.warning("answered 503: %s (%s)", outage.message, type(exc).__name__)
        return outage
    log.error("unhandled error", exc_info=exc)
    return e.InternalError()
