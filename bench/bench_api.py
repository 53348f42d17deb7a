"""API and video benchmark: openkling beside a bare FastAPI endpoint, generation beside encoding.

    python bench/bench_api.py [--seconds 10] [--concurrency 64] [--rounds 2]
                              [--databases sqlite,postgresql] [--skip-video] [--skip-api]

Part 1 starts `openkling serve` (no engine, so the load is the API alone) on each database and
a bare FastAPI app with the same routes under the same uvicorn, then drives each with wrk:
create and get requests per second, p50/p99 latency, and openkling's rate as a multiple of
the bare app's. A get of a waiting task also reads its place in line (one indexed query over
its model's waiting tasks): measured for an ended task (no line to read), a task first in a
line of one, and the newest task behind every task the create row queued. Bare and openkling
take turns (``--rounds`` turns each, ``seconds`` in all), so a machine shared with other work
slows both alike. Part 2 times a 5 s 720p synthetic video
with audio through the API (submit -> succeed, after one warm-up task), the same work
in-process, and the encoding of the same frames alone; each the median of ``--video-runs``.
PostgreSQL rows need a server at 127.0.0.1:5432 (trust, db `test`); each run makes a fresh
database and drops it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import jwt

HERE = Path(__file__).parent
M2 = "kling-v1-6"  # a model with a line of one, beside the create rows' kling-v1
sys.path.insert(0, str(HERE))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Authorization"] = "{auth}"
wrk.headers["Content-Type"] = "application/json"
"""


def _ms(text: str) -> float:
    """wrk's latency ("812.00us", "5.31ms", "1.02s") in milliseconds."""
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def drive(url: str, method: str, headers, body, seconds: int, concurrency: int) -> dict:
    """Load ``url`` with wrk (a C load generator: the client must not be the bottleneck)."""
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        WRK_SCRIPT.format(
            method=method,
            body=json.dumps(json.dumps(body)) if body is not None else "nil",
            auth=headers["Authorization"],
        )
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pct = dict(re.findall(r"^\s+(50|99)(?:\.\d+)?%\s+(\S+)", out, re.M))
    if "99" not in pct:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(pct["50"]),
        "p99": _ms(pct["99"]),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def start(cmd: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def database(kind: str):
    """Environment for openkling on ``kind``: nothing for SQLite, a fresh PostgreSQL db."""
    if kind == "sqlite":
        yield {}
        return
    import psycopg

    name = f"openkling_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"OPENKLING_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}"}
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def side_by_side(bare_url, ok_url, method, headers, body, seconds, concurrency, rounds):
    """bare, openkling, bare, openkling ...: requests over time for each, the worst p50/p99."""
    runs: dict[str, list[dict]] = {"bare": [], "openkling": []}
    share = max(1, round(seconds / rounds))
    for _ in range(rounds):
        for name, url in (("bare", bare_url), ("openkling", ok_url)):
            runs[name].append(drive(url, method, headers, body, share, concurrency))
    out = {}
    for name, rs in runs.items():
        out[name] = {
            "rps": sum(r["rps"] for r in rs) / len(rs),
            "p50": max(r["p50"] for r in rs),
            "p99": max(r["p99"] for r in rs),
            "errors": sum(r["errors"] for r in rs),
        }
    return out["bare"], out["openkling"]


def api_part(seconds: int, concurrency: int, rounds: int, kind: str) -> list[tuple]:
    rows = []
    data_dir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    with database(kind) as db_env:
        env = {
            "OPENKLING_DATA_DIR": str(data_dir),
            "OPENKLING_WORKERS": "0",
            "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
            "OPENKLING_MAX_CONCURRENT_TASKS": "0",
            "OPENKLING_DEFAULT_CREDITS": "100000000",
            "OPENKLING_LOG_LEVEL": "WARNING",
            **db_env,
        }
        keys = json.loads(
            subprocess.run(
                [sys.executable, "-m", "openkling", "keys", "create", "--json", "--credits", "1e8"],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        token = jwt.encode(
            {
                "iss": keys["access_key"],
                "exp": int(time.time()) + 3600,
                "nbf": int(time.time()) - 5,
            },
            keys["secret_key"],
            algorithm="HS256",
        )
        headers = {"Authorization": f"Bearer {token}"}
        body = {"model_name": "kling-v1", "prompt": "a benchmark of calm seas", "duration": "5"}

        port, bare_port = free_port(), free_port()
        server = start([sys.executable, "-m", "openkling", "serve", "--port", str(port)], env)
        bare = start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_app:app",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
                "--app-dir",
                str(HERE),
            ],
            {},
        )
        try:
            wait_up(f"http://127.0.0.1:{port}/healthz", server)
            wait_up(f"http://127.0.0.1:{bare_port}/healthz", bare)
            base, bare_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
            path = "/v1/videos/text2video"
            b, o = side_by_side(
                bare_base + path, base + path, "POST", headers, body, seconds, concurrency, rounds
            )
            rows.append(("bare FastAPI POST (baseline)", b, None))
            rows.append((f"openkling create ({kind})", o, b))
            # a waiting task's get reads its place in line: one more indexed query, over the
            # waiting tasks of its model. Polled: a task first in its model's line, and the
            # newest task behind everything the create rows queued (tens of thousands)
            done = httpx.post(base + path, headers=headers, json={**body, "model_name": M2})
            done_id = done.json()["data"]["task_id"]
            httpx.post(f"{base}{path}/{done_id}/cancel", headers=headers)  # ended: no line
            alone = httpx.post(base + path, headers=headers, json={**body, "model_name": M2})
            behind = httpx.post(base + path, headers=headers, json=body).json()
            queued = httpx.get(f"{base}{path}/{behind['data']['task_id']}", headers=headers)
            depth = queued.json()["data"].get("queue_position", 0)
            polled = (
                (", ended", done.json()),
                (", 1st in line", alone.json()),
                (f", {depth} queued", behind),
            )
            for label, task in polled:
                task_path = f"{path}/{task['data']['task_id']}"
                b, o = side_by_side(
                    bare_base + task_path,
                    base + task_path,
                    "GET",
                    headers,
                    None,
                    seconds,
                    concurrency,
                    rounds,
                )
                rows += [
                    ("bare FastAPI GET (baseline)", b, None),
                    (f"openkling get ({kind}{label})", o, b),
                ]
        finally:
            for p in (server, bare):
                p.terminate()
                p.wait(timeout=20)
    return rows


def video_part(runs: int) -> list[tuple[str, float]]:
    import statistics

    import numpy as np

    from openkling.engines.base import RenderRequest
    from openkling.engines.procedural_audio import ProceduralAudio
    from openkling.engines.synthetic import SyntheticEngine
    from openkling.media.encode import encode_mp4

    engine = SyntheticEngine()
    width, height = engine.output_size("std", "16:9")
    frames_n, fps = engine.frame_plan(5)
    prompt = "A jazz band performing in a dimly lit club"
    req = RenderRequest(prompt, "", width, height, frames_n, fps, 0.5, 7)
    out = Path(tempfile.mkdtemp(prefix="bench-video-"))

    def in_process() -> float:
        t0 = time.perf_counter()
        audio = ProceduralAudio().render(prompt, frames_n / fps, 7)
        encode_mp4(
            out / "full.mp4",
            engine.render(req),
            fps=fps,
            width=width,
            height=height,
            audio=audio,
            cover_path=out / "c.jpg",
        )
        return time.perf_counter() - t0

    audio = ProceduralAudio().render(prompt, frames_n / fps, 7)
    frames = [np.ascontiguousarray(f) for f in engine.render(req)]

    def encode_only() -> float:
        t0 = time.perf_counter()
        encode_mp4(out / "enc.mp4", frames, fps=fps, width=width, height=height, audio=audio)
        return time.perf_counter() - t0

    # through the API: submit -> succeed, default settings, a client polling every 20 ms
    data_dir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    env = {"OPENKLING_DATA_DIR": str(data_dir), "OPENKLING_LOG_LEVEL": "WARNING"}
    keys = json.loads(
        subprocess.run(
            [sys.executable, "-m", "openkling", "keys", "create", "--json"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    port = free_port()
    server = start([sys.executable, "-m", "openkling", "serve", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {keys['secret_key']}"}
    body = {"model_name": "kling-v2-6", "prompt": prompt, "sound": "on"}

    def through_api(client: httpx.Client) -> float:
        t0 = time.perf_counter()
        task = client.post(f"{base}/v1/videos/text2video", headers=headers, json=body).json()
        url = f"{base}/v1/videos/text2video/{task['data']['task_id']}"
        while True:
            data = client.get(url, headers=headers).json()["data"]
            if data["task_status"] == "succeed":
                return time.perf_counter() - t0
            if data["task_status"] == "failed":
                raise RuntimeError(data["task_status_msg"])
            time.sleep(0.02)

    api, local, enc = [], [], []
    try:
        wait_up(f"{base}/healthz", server)
        with httpx.Client(timeout=60) as client:
            through_api(client)  # warm-up: the worker's first run loads what it needs
            in_process()
            for _ in range(runs):  # taking turns: a busy moment slows both alike
                api.append(through_api(client))
                local.append(in_process())
                enc.append(encode_only())
    finally:
        server.terminate()
        server.wait(timeout=20)
    med = statistics.median
    return [
        ("API submit -> succeed (720p, 5 s, audio)", med(api)),
        ("render + audio + encode, in-process", med(local)),
        ("encode the same frames + audio alone (baseline)", med(enc)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10, help="per row, in all its turns")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="turns each of bare / openkling")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--video-runs", type=int, default=3)
    parser.add_argument("--skip-video", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args()

    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPU cores, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    if not args.skip_api:
        rows = []
        for kind in args.databases.split(","):
            rows += api_part(args.seconds, args.concurrency, args.rounds, kind.strip())
        print(
            f"\nAPI: {args.seconds} s per row in {args.rounds} turns, {args.concurrency} "
            "concurrent connections (wrk)"
        )
        print(
            f"| {'endpoint':32} | {'req/s':>8} | {'x bare':>6} | {'p50 ms':>8} | "
            f"{'p99 ms':>8} | {'errors':>6} |"
        )
        print(f"|{'-' * 34}|{'-' * 10}|{'-' * 8}|{'-' * 10}|{'-' * 10}|{'-' * 8}|")
        for name, r, bare in rows:
            ratio = f"{r['rps'] / bare['rps']:6.2f}" if bare else f"{'':6}"
            print(
                f"| {name:32} | {r['rps']:8.0f} | {ratio} | {r['p50']:8.1f} | {r['p99']:8.1f} | "
                f"{r['errors']:6d} |"
            )
    if args.skip_video:
        return
    rows = video_part(args.video_runs)
    print(
        f"\nVideo: 5 s, 1280x720, 24 fps, AAC audio, synthetic engine; median of {args.video_runs}"
    )
    print(f"| {'what':48} | {'seconds':>8} | {'x in-process':>12} |")
    print(f"|{'-' * 50}|{'-' * 10}|{'-' * 14}|")
    local = rows[1][1]
    for name, secs in rows:
        print(f"| {name:48} | {secs:8.2f} | {secs / local:12.2f} |")


if __name__ == "__main__":
    main()
