"""API and video benchmark: openkling beside a bare FastAPI endpoint, generation beside encoding.

    python bench/bench_api.py [--seconds 10] [--concurrency 64]     (needs wrk)

Part 1 starts `openkling serve` (no engine, so the load is the API alone) and a bare FastAPI app
with the same uvicorn settings, then drives each with the same asyncio client: create and get
requests per second, p50/p99 latency. Part 2 times a 5 s 720p synthetic video with audio
through the API (submit -> succeed), the same work in-process, and the encoding of the same
frames alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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


def api_part(seconds: int, concurrency: int) -> list[tuple]:
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
        create_url = "/v1/videos/text2video"
        r = drive(bare_base + create_url, "POST", headers, body, seconds, concurrency)
        rows.append(("bare FastAPI POST (baseline)", r))
        r = drive(f"{base}/v1/videos/text2video", "POST", headers, body, seconds, concurrency)
        rows.append(("openkling create", r))
        one = httpx.post(f"{base}/v1/videos/text2video", headers=headers, json=body).json()
        task_path = f"/v1/videos/text2video/{one['data']['task_id']}"
        r = drive(f"{bare_base}{task_path}", "GET", headers, None, seconds, concurrency)
        rows.append(("bare FastAPI GET (baseline)", r))
        r = drive(f"{base}{task_path}", "GET", headers, None, seconds, concurrency)
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
    rows.append(("render + audio + encode, in-process", time.perf_counter() - t0))

    frames = [np.ascontiguousarray(f) for f in engine.render(req)]
    t0 = time.perf_counter()
    encode_mp4(out / "enc.mp4", frames, fps=fps, width=width, height=height, audio=audio)
    rows.append(("encode the same frames + audio alone (baseline)", time.perf_counter() - t0))

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
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skip-video", action="store_true")
    args = parser.parse_args()

    rows = api_part(args.seconds, args.concurrency)
    print(f"\nAPI: {args.seconds} s per row, {args.concurrency} concurrent connections (wrk)")
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
