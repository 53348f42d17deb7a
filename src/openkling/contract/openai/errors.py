"""OpenAI's error shape: ``{"error": {message, type, param, code}}``, its model for the OpenAPI
document, and how openkling's errors read in it."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from ... import errors as e
from ...errors import InvalidParameter


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorEnvelope(BaseModel):
    """Every error on the OpenAI routes: ``{"error": {...}}``."""

    error: OpenAIErrorDetail


ERROR_KINDS: dict[type[e.OpenklingError], tuple[str, str]] = {
    e.MethodNotAllowed: ("invalid_request_error", "method_not_allowed"),
    e.EndpointNotFound: ("invalid_request_error", "not_found"),
    e.AuthError: ("invalid_request_error", "invalid_api_key"),
    e.InsufficientCredits: ("insufficient_quota", "insufficient_quota"),
    e.ModelPermissionDenied: ("invalid_request_error", "model_not_allowed"),
    e.MalformedRequest: ("invalid_request_error", "invalid_request_body"),
    e.InvalidParameter: ("invalid_request_error", "invalid_value"),
    e.TaskNotFound: ("invalid_request_error", "video_not_found"),
    e.PolicyRefused: ("invalid_request_error", "moderation_blocked"),
    e.RateLimited: ("requests", "rate_limit_exceeded"),
    e.TooManyConcurrentTasks: ("requests", "concurrency_limit_exceeded"),
    e.ServiceUnavailable: ("server_error", "service_unavailable"),
    e.InternalError: ("server_error", "internal_error"),
}

# OpenAI reports spent credits as 429 insufficient_quota, not to be retried
STATUSES: dict[type[e.OpenklingError], int] = {e.InsufficientCredits: 429}
NO_RETRY: tuple[type[e.OpenklingError], ...] = (e.InsufficientCredits,)

_FIELD_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]]*): ")


def error_body(exc: e.OpenklingError) -> dict[str, Any]:
    kind, code = "server_error", "internal_error"
    for cls in type(exc).__mro__:
        if cls in ERROR_KINDS:
            kind, code = ERROR_KINDS[cls]
            break
    param = exc.param
    if param is None and isinstance(exc, InvalidParameter):  # "field: what is allowed"
        match = _FIELD_PREFIX.match(exc.message)
        param = match.group(1) if match else None
    return {"error": {"message": exc.message, "type": kind, "param": param, "code": code}}
