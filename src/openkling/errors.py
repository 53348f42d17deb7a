"""The server's error hierarchy; each carries its Kling code. HTTP status lives in ``api.errors``.

    OpenklingError
    ├── AuthError (1000)
    │   ├── AuthHeaderMissing (1001)
    │   ├── TokenInvalid (1002)
    │   ├── TokenNotYetValid (1003)
    │   └── TokenExpired (1004)
    ├── InsufficientCredits (1102)
    ├── ModelPermissionDenied (1103)
    ├── MediaLinkInvalid (1000)
    ├── MalformedRequest (1200)
    │   ├── BodyTooLarge (1200)
    │   ├── HostNotAllowed (1200)
    │   └── RequestTimeout (1200)
    ├── InvalidParameter (1201)
    ├── EndpointNotFound (1202)
    │   └── MethodNotAllowed (1202)
    ├── TaskNotFound (1203)
    │   └── MediaNotFound (1203)
    ├── PolicyRefused (1301)
    ├── RateLimited (1302)
    ├── TooManyConcurrentTasks (1303)
    ├── InternalError (5000)
    └── ServiceUnavailable (5001)
        └── ServerBusy (5001)

Engine-side failures (``EngineError``, ``GenerationCancelled``) are not request errors: they end
a task as ``failed`` and never reach the HTTP edge. ``DataDirInUse`` stops a server at start-up.

Outbound failures (``netguard``) are not request errors either; callers turn them into 1201 at
create time, a failed task at run time, or a failed callback attempt:

    OutboundError
    ├── URLRefused   (the URL or an address it resolves to is not allowed)
    └── FetchFailed  (connection, timeout, status, size or content-type)
"""

from __future__ import annotations


class OpenklingError(Exception):
    code = 5000
    default_message = "internal error"

    def __init__(self, message: str | None = None, *, param: str | None = None) -> None:
        self.message = message or self.default_message
        self.param = param  # the request field at fault, when one is (OpenAI's error shape)
        super().__init__(self.message)


class AuthError(OpenklingError):
    code = 1000
    default_message = "authentication failed"


class AuthHeaderMissing(AuthError):
    code = 1001
    default_message = "Authorization header is empty: send 'Authorization: Bearer <token>'"


class TokenInvalid(AuthError):
    code = 1002
    default_message = "authorization token is invalid"


class TokenNotYetValid(AuthError):
    code = 1003
    default_message = "authorization token is not yet valid (nbf is in the future)"


class TokenExpired(AuthError):
    code = 1004
    default_message = "authorization token has expired"


class InsufficientCredits(OpenklingError):
    code = 1102
    default_message = "account balance is not enough for this task"


class ModelPermissionDenied(OpenklingError):
    code = 1103
    default_message = "this key has no permission for the requested model"


class MalformedRequest(OpenklingError):
    code = 1200
    default_message = "request body is not valid JSON"


class BodyTooLarge(MalformedRequest):
    default_message = "request body is too large"


class HostNotAllowed(MalformedRequest):
    default_message = "the Host header names a host this server does not answer for"


class RequestTimeout(MalformedRequest):
    default_message = "the request did not arrive in time"


class InvalidParameter(OpenklingError):
    code = 1201
    default_message = "invalid parameter"


class EndpointNotFound(OpenklingError):
    code = 1202
    default_message = "no such endpoint"


class MethodNotAllowed(EndpointNotFound):
    default_message = "method not allowed on this endpoint"

    def __init__(self, message: str | None = None, *, allow: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allow = allow


class TaskNotFound(OpenklingError):
    code = 1203
    default_message = "task does not exist"


class MediaLinkInvalid(OpenklingError):
    code = 1000
    default_message = "media URL is invalid or has expired"


class MediaNotFound(TaskNotFound):
    default_message = "file does not exist"


class PolicyRefused(OpenklingError):
    code = 1301
    default_message = "prompt was refused by the content policy"


class RateLimited(OpenklingError):
    code = 1302
    default_message = "too many requests, slow down"


class TooManyConcurrentTasks(OpenklingError):
    code = 1303
    default_message = "too many unfinished tasks for this account"


class InternalError(OpenklingError):
    code = 5000
    default_message = "internal server error"


class ServiceUnavailable(OpenklingError):
    code = 5001
    default_message = "service is not accepting requests right now"


class ServerBusy(ServiceUnavailable):
    default_message = "the server has too many open connections; try again shortly"


class EngineError(Exception):
    """A generation failed; the message becomes the task's ``task_status_msg``."""


class GenerationCancelled(EngineError):
    """The task was cancelled while its engine was running."""


class DataDirInUse(Exception):
    """Another live openkling server holds this data dir's lock (a start-up error)."""


class OutboundError(Exception):
    """A URL openkling was asked to fetch or call could not be used.

    ``message`` is written for the user: it never carries Python exception text.
    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class URLRefused(OutboundError):
    """The URL, or an address its host resolves to, is not one openkling may connect to."""


class FetchFailed(OutboundError):
    """The destination was allowed but the exchange failed (network, status, size, type)."""
