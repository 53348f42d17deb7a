"""Shared fixtures (helpers live in ``tests/support``): the app in this process
(``app_factory``, ``app_server``), real ``openkling serve`` processes (``server_factory``,
``live_server``), the scaled layout's databases and broker, and the markers that say what a
test needs beyond this process (see docs/testing.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Bytecode caches. A run starts well over a hundred Python processes (pytest's workers, every
# `openkling serve`, worker and CLI call), each importing openkling again; where the
# environment sets PYTHONDONTWRITEBYTECODE, each would compile the same sources again. The
# suite writes the caches all the same (__pycache__ folders, ignored by git), for itself and
# for the processes it starts.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
    sys.dont_write_bytecode = False

from support.accounts import Account, make_token
from support.engines import GatedEngine, ScriptedEngine
from support.harness import AppServer
from support.infra import (  # noqa: F401 - fixtures
    broker_url,
    pg_module_url,
    pg_url,
    s3_endpoint,
    s3_settings,
)
from support.server import FAST_ENV, LiveServer, cli, free_port

__all__ = [
    "FAST_ENV",
    "Account",
    "AppServer",
    "GatedEngine",
    "LiveServer",
    "ScriptedEngine",
    "cli",
    "free_port",
    "make_token",
]

# fixtures -> the marker a test that uses them gets (docs/testing.md, "Markers")
FIXTURE_MARKS = {
    "pg_url": "postgres",
    "pg_module_url": "postgres",
    "broker_url": "redis",
    "server_factory": "process",
    "live_process": "process",
    "cluster": "process",
}


# modules whose tests start real openkling processes (serve, worker, the CLI) because the
# process is the point: start-up and its printout, signals, kill and restart, the data-dir
# lock, drain, socket deadlines and connection caps, TLS, logging set-up, metrics ports
PROCESS_MODULES = {
    "test_cli_server.py",
    "test_first_start.py",
    "test_doc_examples.py",
    "test_logs.py",
    "test_metrics.py",
    "test_slow_clients.py",
    "test_slow_images.py",
    "test_e2e_http.py",
}
PROCESS_TESTS = {  # single tests in modules that otherwise run in this process
    "test_readyz_tells_anonymous_callers_no_addresses_or_credentials",  # the whole log
    "test_local_generation_ignores_kling_base_url_and_says_so",
    "test_generate_with_no_server_runs_in_process",
}


# The longest modules, longest first (seconds on two quiet cores). pytest-xdist hands whole
# modules to its workers in collection order (--dist loadscope), so starting these first lets
# the short ones fill in at the end and the workers finish together; the rest keep their order.
LONGEST_FIRST = [
    "test_doc_examples.py",
    "studio/test_studio.py",
    "api/test_openapi.py",  # schemathesis over every operation
    "engines/diffusers/test_parallel_http.py",  # two-rank gloo renders
    "test_recovery.py",
    "scale/test_keys.py",
    "engines/diffusers/test_diffusers_engine.py",
    "api/test_events.py",
    "scale/test_split.py",
    "engines/diffusers/test_production.py",
    "scale/test_limit_race.py",
    "scale/test_group_commit.py",
    "test_callbacks.py",
    "test_retention.py",
    "api/test_slow_clients.py",
    "test_camera.py",
    "scale/test_kill.py",
    "api/test_unstorable_text.py",
    "engines/diffusers/test_e2e_http.py",
    "client/test_against_server.py",
    "client/test_images_sdk.py",
    "scale/test_switch.py",
    "api/test_outages.py",
    "engines/diffusers/test_models_cli.py",
    "studio/test_studio_images.py",
    "scale/test_fair_fleet.py",
]


def pytest_configure(config) -> None:
    # pytest-xdist would hand out modules by their number of tests (many small parametrized
    # ones first); this suite's own order, longest first (below), keeps the workers even
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto``: one worker more than this machine has CPUs. Much of the suite waits on the
    processes and sockets it drives, and a third worker on two cores keeps both busy."""
    return len(os.sched_getaffinity(0)) + 1


def _longest_first(items: list) -> None:
    here = Path(__file__).parent
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def key(item) -> int:
        relative = Path(str(item.fspath)).relative_to(here).as_posix()
        return rank.get(relative, len(rank))

    items.sort(key=key)  # stable: a module's tests stay together and in their order


def pytest_collection_modifyitems(config, items) -> None:
    _longest_first(items)
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        names = set(getattr(item, "fixturenames", ()))
        if (
            path.name in PROCESS_MODULES
            or getattr(item, "originalname", item.name) in PROCESS_TESTS
            or here / "scale" in path.parents
            or here / "studio" in path.parents
        ):
            item.add_marker("process")
        for fixture, mark in FIXTURE_MARKS.items():
            if fixture in names:
                item.add_marker(mark)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("database_url") == "postgresql":
            item.add_marker("postgres")
        if here / "studio" in path.parents:
            item.add_marker("browser")


@pytest.fixture
def app_factory(tmp_path_factory):
    """``app_factory(env={...}, engine=None, socket=False, data_dir=None)``: the app in this
    process, started; all stop at teardown."""
    servers: list[AppServer] = []

    def start(
        env: dict | None = None,
        *,
        engine=None,
        socket: bool = False,
        data_dir: Path | None = None,
        **settings,
    ) -> AppServer:
        server = AppServer(
            data_dir=data_dir or tmp_path_factory.mktemp("openkling-app"),
            env=dict(env or {}),
            engine=engine,
            socket=socket,
            settings_overrides=settings,
        )
        servers.append(server)
        return server.start()

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def app_server(app_factory) -> AppServer:
    """The app in this process with its defaults (one worker, the synthetic engine), over ASGI."""
    return app_factory()


@pytest.fixture
def gated_engine():
    """An engine whose renders wait half way until ``release()``."""
    engine = GatedEngine()
    yield engine
    engine.release()


@pytest.fixture
def server_factory(tmp_path_factory):
    """``server_factory(env={...}, data_dir=None)`` starts a server process; all stop at
    teardown."""
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
    """One default server shared by a test module: the app in this process, on a loopback
    socket (clients of every kind connect to ``base_url``)."""
    server = AppServer(data_dir=tmp_path_factory.mktemp("openkling-live"), socket=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live_process(tmp_path_factory):
    """One default ``openkling serve`` process shared by a test module."""
    server = LiveServer(data_dir=tmp_path_factory.mktemp("openkling-live"), env={})
    server.start()
    yield server
    server.stop()
