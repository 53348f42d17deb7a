"""The SDK's exceptions: one tree, and nothing from httpx ever escapes it.

KlingError                      status_code, code, message, request_id on every error
├── APIConnectionError          no answer: refused, reset, DNS, TLS, broken download
│   └── APITimeoutError         the request timed out
├── APIError                    the server answered with an error (or code != 0 on HTTP 200)
│   ├── AuthenticationError     401 / 1000-1004, or no credentials configured
│   ├── PermissionDeniedError   403 / 1100, 1103, 1304
│   ├── InvalidRequestError     400 / 1200, 1201, 1202, 1300, 1301
│   ├── NotFoundError           404 / 1203
│   ├── InsufficientCreditsError  402 / 1101, 1102 (the official service sends 1102 with 429)
│   ├── RateLimitError          429 / 1302, 1303
│   └── ServerError             5xx / 5000, 5001, 5002
├── TaskFailedError             the task ended ``failed``; carries ``task_status_msg``
└── WaitTimeout                 ``wait()`` gave up; also a builtin ``TimeoutError``
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import Task

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "KlingError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "TaskFailedError",
    "WaitTimeout",
]


class KlingError(Exception):
    """Base of every SDK error. Fields the situation does not have are ``None``."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        details = []
        if self.status_code is not None:
            details.append(f"HTTP {self.status_code}")
        if self.code is not None:
            details.append(f"code {self.code}")
        if self.request_id:
            details.append(f"request_id {self.request_id}")
        return f"{self.message} ({', '.join(details)})" if details else self.message


class ConfigurationError(KlingError, ValueError):
    """The client cannot be made as asked (no server named: keys go only to a named host)."""


class APIConnectionError(KlingError):
    """The request got no usable answer (connection refused or reset, DNS, TLS, cut stream)."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIError(KlingError):
    """The server answered with an error envelope; ``body`` is the parsed JSON when there was.
    ``retry_after`` is the server's Retry-After hint in seconds, when it sent one."""

    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code, request_id=request_id)
        self.body = body


class AuthenticationError(APIError):
    """Credentials are missing, malformed, expired or unknown."""


class PermissionDeniedError(APIError):
    """The key may not use this resource (a model, an IP address, a suspended account)."""


class InvalidRequestError(APIError):
    """A parameter is missing or wrong, or the content policy refused the prompt (1301)."""


class NotFoundError(APIError):
    """The task (or endpoint) does not exist for this account."""


class InsufficientCreditsError(APIError):
    """The account has not enough credits (or resource packs) for the task."""


class RateLimitError(APIError):
    """Too many requests, or too many unfinished tasks at once."""


class ServerError(APIError):
    """The server failed (5xx) or is not serving right now."""


class TaskFailedError(KlingError):
    """The task ended as ``failed``. ``task`` is the final task object."""

    def __init__(self, task: Task, *, request_id: str | None = None) -> None:
        reason = task.task_status_msg or "no reason given"
        super().__init__(f"task {task.task_id} failed: {reason}", request_id=request_id)
        self.task = task
        self.task_id = task.task_id
        self.task_status_msg = task.task_status_msg


class WaitTimeout(KlingError, TimeoutError):
    """``wait()`` ran out of time; the task may still finish. ``task`` is its last state."""

    def __init__(self, task: Task, timeout: float) -> None:
        super().__init__(
            f"task {task.task_id} still {task.task_status} after waiting {timeout:g} s"
        )
        self.task = task
        self.task_id = task.task_id
        self.timeout = timeout
