"""API and video benchmark: openkling beside a bare FastAPI endpoint, generation beside encoding.

    python bench/bench_api.py [--requests 2000] [--concurrency 64]

Part 1 starts `openkling serve` (no engine, so the load is the API alone) and a bare FastAPI app
with the same uvicorn settings, then drives each with the same asyncio client: create and get
requests per second, p50/p99 latency. Part 2 times a 5 s 720p synthetic video with audio
through the API (submit -> succeed), the same work in-process, and the encoding of the same
frames alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import jwt

HERE = Path(__file__).parent
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


async def drive(url: str, method: str, headers, body, total: int, concurrency: int):
    latencies: list[float] = []
    errors = 0
    queue = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one_client():
            nonlocal errors
            for _ in queue:
                start = time.perf_counter()
                resp = await client.request(method, url, headers=headers, json=body)
                latencies.append(time.perf_counter() - start)
                if resp.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": total / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
    }


def start(cmd: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def api_part(total: int, concurrency: int) -> list[tuple]:
    rows = []
    data_dir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    env = {
        "OPENKLING_DATA_DIR": str(data_dir),
        "OPENKLING_WORKERS": "0",
        "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
        "OPENKLING_MAX_CONCURRENT_TASKS": "0",
        "OPENKLING_DEFAULT_CREDITS": "100000000",
        "OPENKLING_LOG_LEVEL": "WARNING",
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
        {"iss": keys["access_key"], "exp": int(time.time()) + 3600, "nbf": int(time.time()) - 5},
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
        run = asyncio.run
        r = run(
            drive(f"{bare_base}/v1/videos/text2video", "POST", headers, body, total, concurrency)
        )
        rows.append(("bare FastAPI POST (baseline)", r))
        r = run(drive(f"{base}/v1/videos/text2video", "POST", headers, body, total, concurrency))
        rows.append(("openkling create", r))
        one = httpx.post(f"{base}/v1/videos/text2video", headers=headers, json=body).json()
        task_path = f"/v1/videos/text2video/{one['data']['task_id']}"
        r = run(drive(f"{bare_base}{task_path}", "GET", headers, None, total, concurrency))
        rows.append(("bare FastAPI GET (baseline)", r))
        r = run(drive(f"{base}{task_path}", "GET", headers, None, total, concurrency))
        rows.append(("openkling get", r))
    finally:
        for p in (server, bare):
            p.terminate()
            p.wait(timeout=20)
    return rows


def video_part() -> list[tuple[str, float]]:
    import numpy as np

    from openkling.engines.base import RenderRequest
    from openkling.engines.procedural_audio import ProceduralAudio
    from openkling.engines.synthetic import SyntheticEngine
    from openkling.media import encode_mp4

    engine = SyntheticEngine()
    width, height = engine.output_size("std", "16:9")
    frames_n, fps = engine.frame_plan(5)
    prompt = "A jazz band performing in a dimly lit club"
    req = RenderRequest(prompt, "", width, height, frames_n, fps, 0.5, 7)
    out = Path(tempfile.mkdtemp(prefix="bench-video-"))
    rows = []

    start = time.perf_counter()
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
    rows.append(("render + audio + encode, in-process", time.perf_counter() - start))

    frames = [np.ascontiguousarray(f) for f in engine.render(req)]
    start = time.perf_counter()
    encode_mp4(out / "enc.mp4", frames, fps=fps, width=width, height=height, audio=audio)
    rows.append(("encode the same frames + audio alone (baseline)", time.perf_counter() - start))

    # through the API: submit -> succeed, default settings
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
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/healthz", server)
        headers = {"Authorization": f"Bearer {keys['secret_key']}"}
        body = {"model_name": "kling-v2-6", "prompt": prompt, "sound": "on"}
        start_t = time.perf_counter()
        task = httpx.post(f"{base}/v1/videos/text2video", headers=headers, json=body).json()
        url = f"{base}/v1/videos/text2video/{task['data']['task_id']}"
        while True:
            data = httpx.get(url, headers=headers).json()["data"]
            if data["task_status"] in ("succeed", "failed"):
                break
            time.sleep(0.05)
        rows.insert(0, ("API submit -> succeed (720p, 5 s, audio)", time.perf_counter() - start_t))
    finally:
        server.terminate()
        server.wait(timeout=20)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skip-video", action="store_true")
    args = parser.parse_args()

    rows = api_part(args.requests, args.concurrency)
    print(f"\nAPI: {args.requests} requests per row, {args.concurrency} concurrent clients")
    print(f"| {'endpoint':32} | {'req/s':>8} | {'p50 ms':>8} | {'p99 ms':>8} | {'errors':>6} |")
    print(f"|{'-' * 34}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 8}|")
    for name, r in rows:
        print(
            f"| {name:32} | {r['rps']:8.0f} | {r['p50']:8.1f} | {r['p99']:8.1f} | "
            f"{r['errors']:6d} |"
        )
    if args.skip_video:
        return
    print("\nVideo: 5 s, 1280x720, 24 fps, AAC audio, synthetic engine")
    print(f"| {'what':48} | {'seconds':>8} |")
    print(f"|{'-' * 50}|{'-' * 10}|")
    for name, secs in video_part():
        print(f"| {name:48} | {secs:8.2f} |")


if __name__ == "__main__":
    main()
