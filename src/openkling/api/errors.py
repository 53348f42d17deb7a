"""The one table from error class to HTTP status, and the handlers that write the error in the
wire format of the route that failed: Kling's envelope, or OpenAI's shape on ``/v1/videos``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors as e
from .. import openai_contract
from ..contract import failure
from .context import request_id_of

log = logging.getLogger(__name__)

HTTP_STATUS: dict[type[e.OpenklingError], int] = {
    e.AuthError: 401,
    e.InsufficientCredits: 402,
    e.ModelPermissionDenied: 403,
    e.MalformedRequest: 400,
    e.InvalidParameter: 400,
    e.TaskNotFound: 404,
    e.PolicyRefused: 400,
    e.RateLimited: 429,
    e.TooManyConcurrentTasks: 429,
    e.InternalError: 500,
    e.ServiceUnavailable: 503,
}


# Where OpenAI's API answers differently: it reports spent credits as 429 insufficient_quota.
OPENAI_HTTP_STATUS: dict[type[e.OpenklingError], int] = {e.InsufficientCredits: 429}

# The request scope key a route sets to have its errors written in another wire format.
WIRE = "openkling.wire"
OPENAI = "openai"


def status_of(exc: e.OpenklingError, table: dict = HTTP_STATUS) -> int:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return 500


def speaks_openai(request: Request) -> bool:
    return request.scope.get(WIRE) == OPENAI


def error_response(request: Request, exc: e.OpenklingError) -> JSONResponse:
    if speaks_openai(request):
        status = status_of(exc, {**HTTP_STATUS, **OPENAI_HTTP_STATUS})
        body = openai_contract.error_body(exc)
    else:
        status = status_of(exc)
        body = failure(exc.code, exc.message, request_id_of(request))
    headers = {"Retry-After": "1"} if status in (429, 503) else {}
    if isinstance(exc, e.InsufficientCredits):  # waiting does not bring credits back
        headers = {"x-should-retry": "false"}
    return JSONResponse(body, status_code=status, headers=headers or None)


def install(app: FastAPI) -> None:
    @app.exception_handler(e.OpenklingError)
    async def _kling(request: Request, exc: e.OpenklingError):
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return error_response(
            request, e.InvalidParameter(f"{field}: {first.get('msg', 'invalid')}")
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404 and exc.detail == "Not Found":  # the router's own
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        if speaks_openai(request):
            body = openai_contract.http_error_body(exc.status_code, message)
        else:
            body = failure(1200 if exc.status_code < 500 else 5000, message, request_id_of(request))
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("unhandled error")
        return error_response(request, e.InternalError())
