"""Task dispatch overhead and throughput: in-process dispatcher vs Celery with 1 and 2 workers.

Runs real `openkling serve` / `openkling worker` processes on loopback with the synthetic engine
at a small size, and reads each task's status history from its callbacks outbox rows (every
status change writes one, stamped with the task's ``updated_at``):

- create:   round trip of POST /v1/videos/text2video (what a client waits for)
- dispatch: created -> processing (queue hand-over + claim), one task at a time on idle workers
- run:      processing -> succeed (engine + encode + storage), for scale
- burst:    N tasks posted at once; tasks per second from the first create to the last succeed

Needs PostgreSQL (127.0.0.1:5432, trust, db `test`) and Redis (127.0.0.1:6379) for the Celery
rows and the in-process PostgreSQL row; each run uses a fresh database and a private Redis key
prefix and removes both. Usage: python bench/bench_dispatch.py [--burst 16] [--sequential 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import redis
from sqlalchemy import text

from openkling.store.db import make_engine

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
SMALL = {
    "OPENKLING_STD_SHORT_SIDE": "144",
    "OPENKLING_X264_PRESET": "ultrafast",
    "OPENKLING_LEASE_SECONDS": "10",
    "OPENKLING_LOG_LEVEL": "WARNING",
    "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
    "OPENKLING_MAX_CONCURRENT_TASKS": "0",
    "OPENKLING_DEFAULT_CREDITS": "1000000",
    "OPENKLING_URL_ALLOW": "127.0.0.1/32",  # the callback sink runs on loopback
}


@dataclass
class Layout:
    label: str
    dispatcher: str  # inprocess | celery
    database: str  # sqlite | postgresql
    workers: int  # in-process threads, or Celery worker processes


LAYOUTS = [
    Layout("in-process, SQLite, 1 thread", "inprocess", "sqlite", 1),
    Layout("in-process, PostgreSQL, 1 thread", "inprocess", "postgresql", 1),
    Layout("in-process, PostgreSQL, 2 threads", "inprocess", "postgresql", 2),
    Layout("Celery, PostgreSQL, 1 worker", "celery", "postgresql", 1),
    Layout("Celery, PostgreSQL, 2 workers", "celery", "postgresql", 2),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    """Accepts callbacks (so the outbox drains quietly)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def postgres_database():
    name = f"openkling_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_prefix():
    prefix = f"okbench-{uuid.uuid4().hex[:10]}:"
    try:
        yield f"redis://127.0.0.1:6379/0?global_keyprefix={prefix}"
    finally:
        client = redis.Redis("127.0.0.1", 6379)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


class Processes:
    def __init__(self, env: dict, data_dir: Path) -> None:
        self.env = {**os.environ, **SMALL, **env, "OPENKLING_DATA_DIR": str(data_dir)}
        self.data_dir = data_dir
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def cli(self, *args: str) -> str:
        cmd = [sys.executable, "-m", "openkling", *args]
        return subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, check=True, timeout=120
        ).stdout

    def spawn(self, *args: str, ready: Callable[[Path], bool]) -> None:
        log = self.data_dir / f"{args[0]}-{len(self.procs)}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "openkling", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append((proc, log))
        deadline = time.monotonic() + 90
        while not ready(log):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        for proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def history(db_url: str, task_ids: list[str]) -> dict[str, dict[str, int]]:
    """task id -> {status: updated_at ms}, from the callbacks outbox."""
    engine = make_engine(db_url)
    out: dict[str, dict[str, int]] = {t: {} for t in task_ids}
    with engine.connect() as conn:
        for task_id, payload in conn.execute(text("SELECT task_id, payload FROM callbacks")):
            payload = json.loads(payload) if isinstance(payload, str) else payload
            if task_id in out:
                out[task_id][payload["task_status"]] = payload["updated_at"]
    engine.dispose()
    return out


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def run_layout(layout: Layout, *, sequential: int, burst: int, sink: Sink) -> dict:
    with tempfile.TemporaryDirectory(prefix="okbench-") as tmp, _services(layout) as env:
        data_dir = Path(tmp) / "api"
        data_dir.mkdir()
        procs = Processes(env, data_dir)
        port = free_port()
        base = f"http://127.0.0.1:{port}"

        def api_up(_log):
            try:
                return httpx.get(base + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            procs.cli("db", "upgrade")
            keys = json.loads(procs.cli("keys", "create", "--json", "--credits", "1000000"))
            serve = ["serve", "--port", str(port)]
            if layout.dispatcher == "celery":
                serve.append("--no-worker")
            else:
                procs.env["OPENKLING_WORKERS"] = str(layout.workers)
            procs.spawn(*serve, ready=api_up)
            if layout.dispatcher == "celery":
                for i in range(layout.workers):
                    wdir = Path(tmp) / f"worker-{i}"
                    wdir.mkdir()
                    procs.env["OPENKLING_DATA_DIR"] = str(wdir)
                    procs.env["OPENKLING_LOG_LEVEL"] = "INFO"  # for its "ready" line
                    procs.spawn(
                        "worker",
                        "--models",
                        "kling-v1",
                        ready=lambda log: " ready: " in log.read_text(errors="replace"),
                    )
            client = httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {keys['secret_key']}"},
                timeout=60,
            )

            def create(i: int) -> tuple[str, float]:
                t0 = time.perf_counter()
                resp = client.post(
                    "/v1/videos/text2video",
                    json={"prompt": f"bench {i}", "callback_url": sink.url},
                )
                resp.raise_for_status()
                return resp.json()["data"]["task_id"], time.perf_counter() - t0

            def wait(task_ids: list[str]) -> None:
                deadline = time.monotonic() + 600
                for task_id in task_ids:
                    while True:
                        data = client.get(f"/v1/videos/text2video/{task_id}").json()["data"]
                        if data["task_status"] == "succeed":
                            break
                        if data["task_status"] == "failed" or time.monotonic() > deadline:
                            raise RuntimeError(f"task {task_id}: {data}")
                        time.sleep(0.02)

            wait([create(-1)[0]])  # warm up: first connections, first encode
            seq_ids, create_s = [], []
            for i in range(sequential):
                task_id, took = create(i)
                seq_ids.append(task_id)
                create_s.append(took)
                wait([task_id])
            burst_ids = [create(1000 + i)[0] for i in range(burst)]
            wait(burst_ids)
            client.close()

            db_url = env.get("OPENKLING_DATABASE_URL") or f"sqlite:///{data_dir / 'openkling.db'}"
            hist = history(db_url, seq_ids + burst_ids)
        finally:
            procs.stop()
    dispatch = [hist[t]["processing"] - hist[t]["submitted"] for t in seq_ids]
    run = [hist[t]["succeed"] - hist[t]["processing"] for t in seq_ids]
    first = min(hist[t]["submitted"] for t in burst_ids)
    last = max(hist[t]["succeed"] for t in burst_ids)
    return {
        "create_ms": statistics.median(create_s) * 1000,
        "dispatch_p50": statistics.median(dispatch),
        "dispatch_p95": percentile(dispatch, 0.95),
        "run_ms": statistics.median(run),
        "throughput": burst / ((last - first) / 1000),
    }


@contextmanager
def _services(layout: Layout):
    env: dict[str, str] = {"OPENKLING_DISPATCHER": layout.dispatcher}
    if layout.database == "sqlite":
        yield env
        return
    with postgres_database() as db, redis_prefix() as broker:
        env.update(OPENKLING_DATABASE_URL=db, OPENKLING_BROKER_URL=broker)
        yield env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=16, help="tasks posted at once")
    parser.add_argument("--sequential", type=int, default=10, help="tasks run one at a time")
    parser.add_argument(
        "--only", default="", help="run the layouts whose label contains this (e.g. Celery)"
    )
    args = parser.parse_args()
    sink = Sink()
    rows = []
    layouts = [layout for layout in LAYOUTS if args.only in layout.label]
    try:
        for layout in layouts:
            print(f"running: {layout.label} ...", file=sys.stderr, flush=True)
            result = run_layout(layout, sequential=args.sequential, burst=args.burst, sink=sink)
            rows.append((layout, result))
    finally:
        sink.close()
    print(
        f"\nsynthetic engine, 256x144, 5 s (120 frames), x264 ultrafast; "
        f"{args.sequential} sequential tasks, burst of {args.burst}; {os.cpu_count()} CPU cores\n"
    )
    header = (
        f"{'layout':<36} {'create ms':>10} {'dispatch p50':>13} {'dispatch p95':>13} "
        f"{'run ms':>8} {'burst tasks/s':>14}"
    )
    print(header)
    print("-" * len(header))
    for layout, r in rows:
        print(
            f"{layout.label:<36} {r['create_ms']:>10.1f} {r['dispatch_p50']:>10.0f} ms "
            f"{r['dispatch_p95']:>10.0f} ms {r['run_ms']:>8.0f} {r['throughput']:>14.2f}"
        )


if __name__ == "__main__":
    main()
