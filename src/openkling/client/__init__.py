"""The openkling Python SDK: ``Kling`` and ``AsyncKling`` for any Kling-compatible server."""

from ._async import AsyncKling
from ._base import DEFAULT_BASE_URL, RetryPolicy
from ._sync import Kling
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    KlingError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TaskFailedError,
    WaitTimeout,
)
from .types import Costs, Image, ResourcePack, Shot, Task, TaskResult, Video
from .types2026 import Billing, Output, TaskPage, TaskRecord

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncKling",
    "AuthenticationError",
    "Billing",
    "Costs",
    "DEFAULT_BASE_URL",
    "Image",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "Kling",
    "KlingError",
    "NotFoundError",
    "Output",
    "PermissionDeniedError",
    "RateLimitError",
    "ResourcePack",
    "RetryPolicy",
    "ServerError",
    "Shot",
    "Task",
    "TaskFailedError",
    "TaskPage",
    "TaskRecord",
    "TaskResult",
    "Video",
    "WaitTimeout",
]
