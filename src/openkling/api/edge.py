"""The edge guard: refuses a foreign Host, a connection over the cap, and a body over its limit,
counting the body as it streams in so that an oversized one is never held in memory."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import errors as e
from ..config import Settings
from ..net.hosts import allowed_names, host_of, normalize
from .errors import render, unexpected
from .text import header_problem, path_problem

# Set in a request's scope state by the server (api/server.py) when the connection it came
# on is over OPENKLING_MAX_CONNECTIONS.
OVER_CAPACITY = "openkling.over_capacity"

# Create paths whose bodies may be larger than OPENKLING_MAX_BODY_BYTES (they take images
# inline): the exact path -> the name of the Settings field holding their limit.
LARGER_BODIES: dict[str, str] = {
    "/v1/videos/image2video": "image_body_bytes",
    "/v1/videos/multi-image2video": "image_body_bytes",
    "/v1/videos/effects": "image_body_bytes",
    "/v1/images/generations": "image_body_bytes",
    "/v1/videos": "openai_max_upload_bytes",
}
# the same for paths under a prefix (Kling's 2026 endpoints carry the model in the path)
LARGER_BODY_PREFIXES: dict[str, str] = {
    "/image-to-video/": "image_body_bytes",
    "/omni-video/": "image_body_bytes",
}


class EdgeGuard:
    """Pure ASGI middleware; every refusal is rendered by ``api.errors.render``."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = allowed_names(settings.host, settings.public_base_url, settings.allowed_hosts)

    def body_limit(self, path: str) -> int:
        field = LARGER_BODIES.get(path)
        if field is None:
            prefix = path[: path.find("/", 1) + 1] if path.count("/") >= 2 else ""
            field = LARGER_BODY_PREFIXES.get(prefix)
        return getattr(self.settings, field) if field else self.settings.max_body_bytes

    def host_allowed(self, scope: Scope) -> bool:
        values = [v for k, v in scope.get("headers", ()) if k == b"host"]
        if not values:  # HTTP/1.0 without Host: URLs use the address connected to
            return True
        if len(values) > 1:  # which one names the site would be a guess
            return False
        name = host_of(values[0].decode("latin-1"))
        if name is None:
            return False
        if name in self.hosts:
            return True
        server = scope.get("server")  # the address this connection arrived on is truthful
        return server is not None and normalize(str(server[0])) == name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.body_limit(path)
        refusal: e.OpenklingError | None = None
        if scope.get("state", {}).get(OVER_CAPACITY):
            refusal = e.ServerBusy()
        elif not self.host_allowed(scope):
            refusal = e.HostNotAllowed()
        elif _declared_length(scope) > limit:
            refusal = _too_large(limit)
        else:
            refusal = _unstorable(scope)
        if refusal is not None:
            close = isinstance(refusal, e.ServerBusy)
            await render(path, refusal, _request_id(scope), close=close)(scope, receive, send)
            return

        received = 0
        answered = False  # we sent the 400 ourselves; the app's own answer is dropped
        started = False

        async def limited_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # stop here: the rest is discarded by the server as it arrives
                    if not started:
                        answered = True
                        response = render(path, _too_large(limit), _request_id(scope))
                        await response(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception as exc:
            if answered:
                return
            if started:  # part of an answer went out: only closing is left
                raise
            # answered here, not by Starlette's outermost handler, which re-raises after its
            # 500 so that the server drops the connection: a client on keep-alive would get
            # a reset instead. This answer says Connection: close, and the server obeys.
            answered = True
            response = render(path, unexpected(exc), _request_id(scope))
            await response(scope, receive, send)


def _unstorable(scope: Scope) -> e.OpenklingError | None:
    """NUL or another control character in the path, query or a header: 400 / 1200, or 401
    when it is in the credentials (api/text.py)."""
    path = scope["path"]
    # /media answers any odd key or signature itself (403 / 1000); it never reaches the store
    problem = None if path.startswith("/media/") else path_problem(path, scope["query_string"])
    if problem is not None:
        return e.MalformedRequest(problem)
    found = header_problem(scope.get("headers", ()))
    if found is None:
        return None
    header, problem = found
    if header.lower() == "authorization":
        return e.TokenInvalid(f"authorization token is malformed: {problem}")
    return e.MalformedRequest(problem)


def _too_large(limit: int) -> e.BodyTooLarge:
    return e.BodyTooLarge(f"request body is larger than {limit} bytes")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _declared_length(scope: Scope) -> int:
    value = _header(scope, b"content-length")
    if value is None or not value.strip().isascii() or not value.strip().isdigit():
        return 0  # absent, or malformed (the HTTP parser refuses those before we see them)
    return int(value.strip()[:20])


def _request_id(scope: Scope) -> str:
    state = scope.setdefault("state", {})
    return state.setdefault("request_id", str(uuid.uuid4()))
