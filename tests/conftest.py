"""Shared fixtures: real `openkling serve` processes on free loopback ports, real accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveserver import (  # noqa: F401 - re-exported for tests that load this file by path
    FAST_ENV,
    Account,
    LiveServer,
    cli,
    free_port,
    make_token,
)


@pytest.fixture
def server_factory(tmp_path_factory):
    """``server_factory(env={...}, data_dir=None)`` starts a server; all stop at teardown."""
    servers: list[LiveServer] = []

    def start(env: dict | None = None, data_dir: Path | None = None) -> LiveServer:
        server = LiveServer(
            data_dir=data_dir or tmp_path_factory.mktemp("openkling-data"), env=dict(env or {})
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """One default server shared by a test module."""
    server = LiveServer(data_dir=tmp_path_factory.mktemp("openkling-live"), env={})
    server.start()
    yield server
    server.stop()
