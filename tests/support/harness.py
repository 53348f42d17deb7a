"""The app in this process: ``create_app(runtime=...)`` over a runtime built from test
settings (a temporary data dir, SQLite), with an injectable video engine.

``AppServer`` answers the same calls as the process-based ``LiveServer`` (``request``,
``new_account``, ``wait_task``, ``base_url`` ...). It serves the app in one of two ways:

- over ASGI (the default): Starlette's ``TestClient``, no socket. Responses arrive whole, so
  a stream that never ends (server-sent events) needs the other way;
- on a loopback socket (``socket=True``): uvicorn in a thread, on a free port, with the same
  guarded protocol ``openkling serve`` uses. For streams and for clients that open their own
  connections (the SDK, the ``openai`` package, plain ``httpx`` calls to ``base_url``).

Accounts are made through the task layer (``create_account``), in this process.
"""

from __future__ import annotations

import gc
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from openkling.api.app import create_app
from openkling.config import Settings
from openkling.runtime import Runtime, build_runtime

from .accounts import Account, new_account, seed_store
from .server import Served, settings_from_env

ASGI_BASE = "http://testserver"
# Alembic's migration context is one per process: apps are built one at a time.
_BUILDING = threading.Lock()


class _LogCapture(logging.Handler):
    """Keeps the records of ``openkling.*`` loggers while one app runs (``AppServer.log``)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a log line must never break the app under test
            pass


@dataclass
class AppServer(Served):
    """The openkling app in this process. ``env`` takes ``OPENKLING_*`` names, like a server
    process's environment (FAST_ENV under them); ``settings`` overrides fields by name.
    ``engine`` (e.g. ``ScriptedEngine``, ``GatedEngine``) renders every model's videos in
    place of the synthetic engine."""

    data_dir: Path
    env: dict = field(default_factory=dict)
    engine: Any = None
    socket: bool = False
    settings_overrides: dict = field(default_factory=dict)
    account: Account | None = None
    port: int = 0
    runtime: Runtime | None = None
    app: FastAPI | None = None
    _http: httpx.Client | None = None
    _uvicorn: Any = None
    _thread: threading.Thread | None = None
    _logs: _LogCapture | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.socket else ASGI_BASE

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def client(self) -> httpx.Client:
        """The client every ``request`` goes through (a ``TestClient`` over ASGI, or a
        keep-alive ``httpx.Client`` on the socket); its base URL is the server's."""
        return self._http

    def _client(self) -> httpx.Client:
        return self._http

    def new_account(
        self, credits: float = 1000, name: str = "", models: list[str] | None = None
    ) -> Account:
        return new_account(self.runtime.sessions, credits=credits, name=name, models=models)

    def start(self) -> AppServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._listener = None
        if self.socket:  # bound here and handed to uvicorn: no other test can take the port
            self._listener = socket.socket()
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(("127.0.0.1", self.port))
            self.port = self._listener.getsockname()[1]
        overrides = dict(self.settings_overrides)
        if self.socket:
            overrides.setdefault("port", self.port)
        if "OPENKLING_METRICS" not in self.env:
            # Prometheus collectors are registered once per process: two apps side by side
            # would collide. A test of /metrics turns them on for its one app.
            overrides.setdefault("metrics", False)
        settings = settings_from_env(self.env, self.data_dir, **overrides)
        self._logs = _LogCapture()
        logger = logging.getLogger("openkling")
        self._saved = (logger.level, gc.get_threshold())
        logger.addHandler(self._logs)
        logger.setLevel(settings.log_level.upper())
        access = logging.getLogger("uvicorn.access")  # "GET /path HTTP/1.1" 200 lines
        self._saved_access = access.level
        access.addHandler(self._logs)
        access.setLevel(logging.INFO)
        with _BUILDING:
            seed_store(settings)
            self.runtime = build_runtime(settings)
        if self.engine is not None and self.runtime.worker is not None:
            videos = self.runtime.worker.registry.videos
            for name in list(videos):
                if hasattr(self.engine, "bind"):  # a wrapper (GatedEngine): around the default
                    self.engine.bind(videos[name])
                videos[name] = self.engine
        if self.account is None:
            self.account = self.new_account()
        self.app = create_app(runtime=self.runtime)
        try:
            if self.socket:
                self._serve_socket(settings)
                self._http = httpx.Client(base_url=self.base_url, timeout=30)
            else:
                client = TestClient(self.app, base_url=ASGI_BASE, raise_server_exceptions=False)
                client.__enter__()  # runs the app's lifespan: the runtime starts
                self._http = client
        except BaseException:
            self.runtime.stop()
            self._restore()
            raise
        return self

    def _serve_socket(self, settings: Settings) -> None:
        import uvicorn

        from openkling.api.server import guarded_protocol

        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            http=guarded_protocol(settings) or "auto",
            log_config=None,
            timeout_graceful_shutdown=10,
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._uvicorn.run, args=([self._listener],), daemon=True, name="app-server"
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start on port {self.port}:\n{self.log()}")
            time.sleep(0.01)

    def log(self) -> str:
        return "\n".join(self._logs.lines) if self._logs else ""

    def stop(self) -> None:
        """Stops serving and the runtime (its workers finish or hand back their tasks)."""
        if self.engine is not None and hasattr(self.engine, "release"):
            self.engine.release()  # a render held at a gate must not hold up the shutdown
        if self._uvicorn is not None:
            self.app.state.draining = True  # open event streams end now, as on SIGTERM
            self._uvicorn.should_exit = True
            self._thread.join(timeout=30)
            self._uvicorn = None
            self._listener.close()
        if self._http is not None:
            if isinstance(self._http, TestClient):
                self._http.__exit__(None, None, None)
            else:
                self._http.close()
            self._http = None
        self._restore()

    def _restore(self) -> None:
        """Undo what serving changed in this process: log handler and level, and the
        collector's settings (the lifespan freezes what is alive and raises the thresholds)."""
        if self._logs is not None:
            logger = logging.getLogger("openkling")
            logger.removeHandler(self._logs)
            logger.setLevel(self._saved[0])
            access = logging.getLogger("uvicorn.access")
            access.removeHandler(self._logs)
            access.setLevel(self._saved_access)
            gc.set_threshold(*self._saved[1])
        gc.unfreeze()

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
