"""An embedded server on a free loopback port, for `openkling generate` with no server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .config import Settings


@dataclass(frozen=True)
class EmbeddedServer:
    base_url: str
    access_key: str
    secret_key: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def run_embedded(data_dir: Path | None = None, **overrides) -> Iterator[EmbeddedServer]:
    """Start the API with its worker in this process; yield its URL and the first account."""
    import uvicorn

    from .api.app import create_app
    from .runtime import build_runtime
    from .tasks.accounts import create_account, first_account

    values = dict(overrides, host="127.0.0.1", port=free_port())
    if data_dir is not None:
        values["data_dir"] = data_dir
    settings = Settings(**values)
    runtime = build_runtime(settings)
    with runtime.sessions.begin() as s:
        account = first_account(s) or create_account(
            s, name="default", credits_amount=settings.default_credits
        )
        keys = (account.access_key, account.secret_key)
    config = uvicorn.Config(
        create_app(settings, runtime=runtime),
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        log_config=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="embedded-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("embedded openkling server did not start")
        time.sleep(0.05)
    try:
        yield EmbeddedServer(f"http://127.0.0.1:{settings.port}", *keys)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
