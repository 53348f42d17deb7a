"""Scaled-layout fixtures: a fresh PostgreSQL database, a private Redis key prefix, an S3
endpoint (moto in server mode), and real `openkling serve --no-worker` / `openkling worker`
processes on loopback."""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis


def _root_conftest():
    """tests/conftest.py by path: the bare name ``conftest`` may be another directory's."""
    name = "_openkling_tests_root_conftest"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "conftest.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_root = _root_conftest()
FAST_ENV, LiveServer, cli, free_port = _root.FAST_ENV, _root.LiveServer, _root.cli, _root.free_port
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _pg_admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"openkling_test_{uuid.uuid4().hex[:12]}"
    try:
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def broker_url():
    """The Redis broker with a key prefix of our own, so parallel runs never share a queue."""
    prefix = f"oktest-{uuid.uuid4().hex[:12]}:"
    client = redis.Redis(REDIS_HOST, REDIS_PORT, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}: {exc}")
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/0?global_keyprefix={prefix}"
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3 endpoint: moto in server mode on a free loopback port."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(s3_endpoint) -> dict[str, str]:
    """OPENKLING_* variables for S3 storage in a bucket of this test's own."""
    return {
        "OPENKLING_STORAGE": "s3",
        "OPENKLING_S3_ENDPOINT_URL": s3_endpoint,
        "OPENKLING_S3_BUCKET": f"okt-{uuid.uuid4().hex[:12]}",
        "OPENKLING_S3_REGION": "us-east-1",
        "OPENKLING_S3_ACCESS_KEY_ID": "testing",
        "OPENKLING_S3_SECRET_ACCESS_KEY": "testing",
    }


@pytest.fixture
def scaled_env(pg_url, broker_url, s3_settings) -> dict[str, str]:
    """Everything that turns the embedded layout into the scaled one: settings only."""
    return {
        "OPENKLING_DISPATCHER": "celery",
        "OPENKLING_DATABASE_URL": pg_url,
        "OPENKLING_BROKER_URL": broker_url,
        **s3_settings,
    }


class ApiServer(LiveServer):
    """`openkling serve --no-worker`: the API host of the scaled layout."""

    serve_args = ("--no-worker",)
    log_prefix = "api"


@dataclass
class WorkerProcess:
    """A real `openkling worker --models ...` process."""

    data_dir: Path
    env: dict
    models: str
    concurrency: int = 1
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    _log: object = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"worker-{uuid.uuid4().hex[:6]}.log"
        full_env = {**os.environ, **FAST_ENV, **self.env, "OPENKLING_DATA_DIR": str(self.data_dir)}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "openkling", "worker",
                "--models", self.models, "--concurrency", str(self.concurrency),
            ],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            if "openkling worker" in self.log() and " ready: " in self.log():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"worker did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # warm shutdown: finish the running task
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL the worker's process group, as a machine dying would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@dataclass
class Cluster:
    """API hosts and GPU workers of one scaled install (one data dir per process)."""

    env: dict
    tmp: Path
    apis: list[ApiServer] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def api(self, env: dict | None = None) -> ApiServer:
        server = ApiServer(
            data_dir=self.tmp / f"api-{len(self.apis)}", env={**self.env, **(env or {})}
        )
        self.apis.append(server)
        return server.start()

    def worker(self, models: str = "kling-v1,kling-v2-6", concurrency: int = 1) -> WorkerProcess:
        proc = WorkerProcess(
            data_dir=self.tmp / f"worker-{len(self.workers)}",
            env=dict(self.env),
            models=models,
            concurrency=concurrency,
        )
        self.workers.append(proc)
        return proc.start()

    def stop(self) -> None:
        for part in [*self.workers, *self.apis]:
            part.stop()

    def logs(self) -> str:
        return "\n".join(p.log()[-4000:] for p in [*self.apis, *self.workers])


@pytest.fixture
def cluster(scaled_env, tmp_path):
    c = Cluster(env=scaled_env, tmp=tmp_path)
    yield c
    c.stop()


def sql(url: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(query, params).fetchall()


def check_mp4(data: bytes) -> dict:
    """Decode a downloaded MP4 with PyAV; returns what it holds (raises if it is no video)."""
    import io

    import av

    with av.open(io.BytesIO(data)) as container:
        assert container.format.name.startswith("mov"), container.format.name
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        return {
            "codec": video.codec_context.name,
            "width": video.codec_context.width,
            "height": video.codec_context.height,
            "frames": frames,
            "audio": len(container.streams.audio) > 0,
        }


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request, tmp_path):
    """Each test twice: on a fresh PostgreSQL database and on a SQLite file."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'shared.db'}"


def count(database_url: str, query: str, *params) -> int:
    """One number from either database (``?`` placeholders)."""
    if database_url.startswith("postgresql"):
        return sql(database_url, query.replace("?", "%s"), *params)[0][0]
    import sqlite3

    with sqlite3.connect(database_url.split("///", 1)[1]) as db:
        return db.execute(query, params).fetchone()[0]


def api_hosts(tmp_path, env: dict) -> list[ApiServer]:
    """Two API hosts on one database, both signing as the same account."""
    first = ApiServer(data_dir=tmp_path / "api-0", env=env).start()
    second = ApiServer(data_dir=tmp_path / "api-1", env=env, account=first.account)
    try:
        second.start()
    except Exception:
        first.stop()
        raise
    return [first, second]
