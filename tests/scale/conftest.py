"""Scaled-layout fixtures (the database, broker and S3 fixtures come from ``support.infra``):
real `openkling serve --no-worker` / `openkling worker`
processes on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from support import processes
from support.server import FAST_ENV, LiveServer, cli, free_port  # noqa: F401


@pytest.fixture
def scaled_env(pg_url, broker_url, s3_settings) -> dict[str, str]:
    """Everything that turns the embedded layout into the scaled one: settings only."""
    return {
        "OPENKLING_DISPATCHER": "celery",
        "OPENKLING_DATABASE_URL": pg_url,
        "OPENKLING_BROKER_URL": broker_url,
        "OPENKLING_FPS": "24",  # not the suite's 12: runs long enough to be interrupted
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
        self.proc = processes.spawn(
            [
                sys.executable, "-m", "openkling", "worker",
                "--models", self.models, "--concurrency", str(self.concurrency),
            ],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
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
        if self.proc is not None:  # SIGTERM: a warm shutdown, the running task finishes
            processes.stop(self.proc, timeout=30)
        if self._log:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL the worker's process group, as a machine dying would."""
        if self.proc and self.proc.poll() is None:
            processes.kill_group(self.proc)
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
