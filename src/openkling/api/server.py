"""Serving the app with uvicorn, plus the guards uvicorn lacks: a deadline for a request's
headers and one for its body (slow clients are closed), and a cap on open connections."""

from __future__ import annotations

import asyncio
import logging
import uuid
from types import FrameType
from typing import TYPE_CHECKING, Any

from .. import errors as e
from ..config import Settings
from .edge import OVER_CAPACITY
from .errors import raw_response

log = logging.getLogger(__name__)

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    HTTPTOOLS = True
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
    HTTPTOOLS = False

if TYPE_CHECKING:  # the guards are mixed into uvicorn's protocol: they see its attributes
    _Protocol = HttpToolsProtocol
else:
    _Protocol = object


def run(
    app: Any, settings: Settings, *, ssl_certfile: str | None = None, ssl_keyfile: str | None = None
) -> None:
    """Serve ``app`` on ``settings.host:port`` until SIGINT/SIGTERM."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            app.state.draining = True  # open live event streams end now: shutdown waits on none
            super().handle_exit(sig, frame)

    server = Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            http=guarded_protocol(settings) or "auto",
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            log_config=None,
            timeout_graceful_shutdown=10,
        )
    )
    server.run()


def guarded_protocol(settings: Settings) -> type[asyncio.Protocol] | None:
    """uvicorn's httptools protocol with openkling's deadlines and connection cap, or None
    (uvicorn's default, unguarded) where httptools is missing."""
    if not HTTPTOOLS:
        log.warning("httptools is missing: no header/body deadlines and no connection cap")
        return None

    class GuardedProtocol(_Guards, HttpToolsProtocol):
        header_timeout = settings.header_timeout_seconds
        body_timeout = settings.body_timeout_seconds
        max_connections = settings.max_connections

    return GuardedProtocol


class _Guards(_Protocol):
    """Mixed into uvicorn's protocol: one timer per connection, armed for the phase the
    request is in (waiting for headers, receiving the body) and idle otherwise (the app is
    working, or the connection is kept alive: uvicorn's own keep-alive timeout rules then)."""

    header_timeout: float
    body_timeout: float
    max_connections: int

    _timer: asyncio.TimerHandle | None = None
    _phase: str | None = None  # "headers" | "body" | None
    _began = False  # a byte of the current request has arrived

    def _arm(self, phase: str | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._phase = phase
        if phase is not None:
            delay = self.header_timeout if phase == "headers" else self.body_timeout
            self._timer = self.loop.call_later(delay, self._expired)

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # we stopped reading, not the client: not its fault
            self._arm(self._phase)
            return
        phase, where = self._phase, "-"
        if phase == "headers":
            log.info("closing a connection: request headers took over %ss", self.header_timeout)
            if not self._began:  # nothing sent at all: close quietly, as a keep-alive timeout
                self.transport.close()
                return
            exc = e.RequestTimeout(
                f"request headers did not arrive within {self.header_timeout:g} s"
            )
            request_id = str(uuid.uuid4())
        else:
            log.info("closing a connection: request body took over %ss", self.body_timeout)
            cycle = self.cycle
            where = self.scope.get("path", "-") if self.scope else "-"
            request_id = (self.scope or {}).get("state", {}).get("request_id") or str(uuid.uuid4())
            if cycle is not None and cycle.response_started:
                self.transport.close()
                return
            exc = e.RequestTimeout(f"request body did not arrive within {self.body_timeout:g} s")
            if cycle is not None:  # the app, if it waits for the body, sees a disconnect
                cycle.response_started = cycle.response_complete = cycle.disconnected = True
                cycle.message_event.set()
        self.transport.write(raw_response(where, exc, request_id))
        self.transport.close()

    # uvicorn / httptools callbacks -----------------------------------------------------------
    # uvicorn's own override narrows asyncio's BaseTransport the same way
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._began = False
        self._arm("headers")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._began = True
        if self._phase != "headers":
            self._arm("headers")

    def on_headers_complete(self) -> None:
        if self.max_connections and len(self.connections) > self.max_connections:
            self.scope["state"][OVER_CAPACITY] = True
        self._arm("body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._arm(None)
        self._began = False
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        super().connection_lost(exc)
