"""Diffusers engine benchmark: engine overhead, step caching, 1 vs N devices, distilled steps.

    python bench/bench_diffusers.py [--width 160 --height 96 --frames 21 --steps 8] [--no-api]
    # on a GPU machine, real weights:
    python bench/bench_diffusers.py --weights /models/Wan2.1-T2V-1.3B-Diffusers --device cuda \
        --devices cuda:0,cuda:1 --lora /models/lightx2v.safetensors --width 832 --height 480 \
        --frames 81 --steps 40 --cache-steps 40 --repeats 3

Without --weights it builds a tiny random Wan 2.1 and runs on the CPU, and says so: its
timings show overhead and relative cost, not real generation speed.

Part 1 renders the same clip (same prompt, size, frames, steps, guidance and seed) three ways:
calling diffusers' WanPipeline directly, through DiffusersEngine.render (profile, registry,
lock, callback, frame conversion), and through the Kling API of a real `openkling serve`
(submit -> succeed: queue, worker, MP4 encode, storage). It prints the median of each and the
overhead ratio against the direct call, and checks the engine's frames equal the direct ones.

Part 2 renders with each step-caching hook (diffusers.hooks) and without, on a wider tiny Wan
(8 blocks) so the denoiser is not dwarfed by the VAE: median total time, time inside the
transformer, speed-ups, and PSNR of the cached frames against the uncached ones (inf = identical).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import jwt
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "engines" / "diffusers"))  # the tiny-model builders

PROMPT = "a red fox runs on the beach at sunset"
NEGATIVE = "blur, low quality"
SEED = 1234
CACHES = [
    ("none", None),
    ("first_block 0.05", '{type = "first_block", threshold = 0.05}'),
    ("first_block 0.2", '{type = "first_block", threshold = 0.2}'),
    ("first_block 0.5", '{type = "first_block", threshold = 0.5}'),
    # pyramid_attention_broadcast is refused for Wan: one cache across CFG's two passes
    ("taylorseer 3/2", '{type = "taylorseer", cache_interval = 3, disable_cache_before_step = 2}'),
]


def profile_text(
    weights: Path, args: argparse.Namespace, cache: str | None = None, extra: str = ""
) -> str:
    # fps chosen so that a 5 s Kling request asks for exactly --frames frames
    device = "" if "devices = " in extra else f'device = "{args.device}"\n'
    return (
        f'[models."kling-v1"]\nengine = "diffusers"\nfamily = "wan"\nweights = "{weights}"\n'
        f'{device}dtype = "{args.dtype}"\nsteps = {args.steps}\n'
        + ("" if "guidance" in extra else "guidance = [1.0, 9.0]\n")
        + f"fps = {(args.frames - 1) / 5}\nmax_frames = {max(args.frames, 81)}\n"
        + (f"cache = {cache}\n" if cache else "")
        + extra
        + f'resolution = {{ std = {{ "16:9" = [{args.width}, {args.height}] }} }}\n'
    )


def interleaved(runs: dict[str, object], repeats: int) -> tuple[dict[str, float], dict]:
    """Median seconds of each run, taking turns so that load from elsewhere hits all alike."""
    results = {name: fn() for name, fn in runs.items()}  # warm-up: weights loaded, kernels chosen
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, results


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def engine_for(text: str, workdir: Path, name: str):
    from openkling.config import Settings
    from openkling.engines.registry import build_registry

    path = workdir / f"{name}.toml"
    path.write_text(text)
    return build_registry(Settings(profiles_file=path, data_dir=workdir / "data")).video("kling-v1")


def render_request(engine, args):
    from openkling.engines.base import RenderRequest

    frames, fps = engine.frame_plan(5)
    assert frames == args.frames, (frames, args.frames)
    return RenderRequest(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        width=args.width,
        height=args.height,
        num_frames=frames,
        fps=fps,
        cfg_scale=0.5,
        seed=SEED,
    )


def direct(weights: Path, args: argparse.Namespace):
    import torch
    from diffusers import WanPipeline

    dtype = getattr(torch, args.dtype)
    pipe = WanPipeline.from_pretrained(weights, dtype=dtype, local_files_only=True)
    pipe.to(args.device)
    pipe.set_progress_bar_config(disable=True)

    def run():
        return pipe(
            prompt=PROMPT,
            negative_prompt=NEGATIVE,
            width=args.width,
            height=args.height,
            num_frames=args.frames,
            num_inference_steps=args.steps,
            guidance_scale=5.0,  # what the engine maps cfg_scale 0.5 to with guidance [1, 9]
            generator=torch.Generator("cpu").manual_seed(SEED),
            output_type="np",
        ).frames[0]

    return run


class ApiServer:
    """A real `openkling serve` with the profile; ``run()`` times one task submit -> succeed."""

    def __init__(self, weights: Path, args: argparse.Namespace, workdir: Path) -> None:
        profile = workdir / "api.toml"
        profile.write_text(profile_text(weights, args))
        env = {
            **os.environ,
            "OPENKLING_DATA_DIR": str(workdir / "api-data"),
            "OPENKLING_PROFILES_FILE": str(profile),
            "OPENKLING_X264_PRESET": "ultrafast",
            "OPENKLING_LOG_LEVEL": "WARNING",
            "OMP_NUM_THREADS": str(args.threads),
        }
        cli = [sys.executable, "-m", "openkling"]
        out = subprocess.run(
            [*cli, "keys", "create", "--json"], env=env, capture_output=True, text=True, check=True
        )
        self.keys = json.loads(out.stdout)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [*cli, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.1)

    def run(self) -> None:
        now = int(time.time())
        claims = {"iss": self.keys["access_key"], "exp": now + 600, "nbf": now - 5}
        token = jwt.encode(claims, self.keys["secret_key"], algorithm="HS256")
        headers = {"Authorization": f"Bearer {token}"}
        body = {"model_name": "kling-v1", "prompt": PROMPT, "negative_prompt": NEGATIVE}
        task = httpx.post(self.base + "/v1/videos/text2video", json=body, headers=headers).json()
        url = f"{self.base}/v1/videos/text2video/{task['data']['task_id']}"
        while True:
            data = httpx.get(url, headers=headers).json()["data"]
            if data["task_status"] == "succeed":
                return
            if data["task_status"] == "failed":
                raise RuntimeError(data.get("task_status_msg"))
            time.sleep(0.02)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--frames", type=int, default=21)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache-steps", type=int, default=20)
    parser.add_argument("--cache-layers", type=int, default=8, help="blocks of the denoiser")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, here and served")
    parser.add_argument("--no-api", action="store_true", help="skip the run through the API")
    parser.add_argument("--weights", type=Path, help="a real Wan 2.1 T2V folder (else tiny)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="default: bfloat16 on CUDA, else float32")
    parser.add_argument("--devices", default="cpu,cpu", help="devices for the 1-vs-N part")
    parser.add_argument("--lora", type=Path, help="a step-distill LoRA for the 4-step part")
    args = parser.parse_args()
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")

    import tiny
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-diffusers-") as tmp:
        workdir = Path(tmp)
        real = args.weights is not None
        weights = args.weights if real else tiny.build_wan(workdir / "wan")
        clip = f"{args.width}x{args.height}, {args.frames} frames, {args.steps} steps, CFG on"
        where = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU"
        print(
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            + (f"{weights}" if real else "tiny Wan 2.1 (random weights: CPU proof, not speed)")
            + f", {clip}; torch {torch.__version__}, {where}, {args.threads} thread(s)"
        )
        summary: list[list[str]] = []

        # part 1: overhead
        engine = engine_for(profile_text(weights, args), workdir, "plain")
        req = render_request(engine, args)
        runs = {"direct": direct(weights, args), "engine": lambda: np.stack(engine.render(req))}
        server = None if args.no_api else ApiServer(weights, args, workdir)
        try:
            if server is not None:
                runs["api"] = server.run
            times, results = interleaved(runs, args.repeats)
        finally:
            if server is not None:
                server.stop()
        expected = (np.clip(results["direct"], 0, 1) * 255 + 0.5).astype(np.uint8)
        same = np.array_equal(expected, results["engine"])
        labels = {
            "direct": ("diffusers WanPipeline, direct", "reference"),
            "engine": ("DiffusersEngine.render", "identical frames" if same else "FRAMES DIFFER"),
            "api": ("API submit -> succeed", "+ queue, MP4 encode, storage; 20 ms polls"),
        }
        rows = [
            [labels[k][0], f"{t:.3f}", f"{t / times['direct']:.2f}", labels[k][1]]
            for k, t in times.items()
        ]
        table(
            f"Part 1: overhead, median of {args.repeats}, taking turns",
            ["path", "seconds", "x direct", "note"],
            rows,
        )

        summary += [
            [f"overhead: {labels[k][0]}", f"{t:.3f}", f"{times['direct'] / t:.2f}", labels[k][1]]
            for k, t in times.items()
        ]

        # part 2: step caching, on a wider denoiser so that it is not dwarfed by the VAE
        wide = (
            weights
            if real
            else tiny.build_wan(
                workdir / "wan-wide", layers=args.cache_layers, heads=4, head_dim=24, ffn_dim=256
            )
        )
        cache_args = argparse.Namespace(**{**vars(args), "steps": args.cache_steps})
        engines = {
            label: engine_for(profile_text(wide, cache_args, cache), workdir, f"cache{i}")
            for i, (label, cache) in enumerate(CACHES)
        }
        req = render_request(engines["none"], cache_args)
        denoiser = {label: DenoiserClock(e) for label, e in engines.items()}
        runs = {label: (lambda e=e: np.stack(e.render(req))) for label, e in engines.items()}
        times, results = interleaved(runs, args.repeats)
        base = denoiser["none"].median()
        rows = [
            [
                label,
                f"{t:.3f}",
                f"{times['none'] / t:.2f}",
                f"{denoiser[label].median():.3f}",
                f"{base / denoiser[label].median():.2f}",
                f"{psnr(results['none'], results[label]):.1f}",
            ]
            for label, t in times.items()
        ]
        table(
            f"Part 2: step caching, {args.cache_layers}-block denoiser, {args.cache_steps} steps, "
            f"median of {args.repeats}, in turns",
            ["cache", "total s", "speed-up", "denoiser s", "speed-up", "PSNR dB vs none"],
            rows,
        )
        summary += [[f"cache: {r[0]}", r[1], r[2], f"PSNR {r[5]} dB vs none"] for r in rows]
        for engine in engines.values():
            engine.pool.clear()

        # part 3: one device against N (context parallelism); same seed, PSNR against one
        devices = [d for d in args.devices.split(",") if d]
        many = json.dumps(devices)
        extra = f"devices = {many}\nparallel = {{ ulysses = {len(devices)} }}\n"
        one = engine_for(profile_text(weights, args), workdir, "one")
        group = engine_for(profile_text(weights, args, extra=extra), workdir, "many")
        req = render_request(one, args)
        times, results = interleaved(
            {"1": lambda: np.stack(one.render(req)), "N": lambda: np.stack(group.render(req))},
            max(1, args.repeats // 2),
        )
        summary += [
            ["1 device", f"{times['1']:.3f}", "1.00", args.device],
            [
                f"{len(devices)} devices (ulysses)",
                f"{times['N']:.3f}",
                f"{times['1'] / times['N']:.2f}",
                f"{', '.join(devices)}; PSNR {psnr(results['1'], results['N']):.1f} dB vs 1",
            ],
        ]
        group.pool.clear()

        # part 4: 40 steps with CFG against the distilled setting: 4 steps, guidance 1, LoRA
        lora = args.lora if real else tiny.build_wan_lora(workdir / "lora", weights)
        full_args = argparse.Namespace(**{**vars(args), "steps": 40 if real else args.steps})
        fast_args = argparse.Namespace(**{**vars(args), "steps": 4})
        lora_line = f'loras = [{{ path = "{lora}", scale = 1.0 }}]\n' if lora else ""
        full = engine_for(profile_text(weights, full_args), workdir, "full")
        fast = engine_for(
            profile_text(weights, fast_args, extra=f"guidance = [1.0, 1.0]\n{lora_line}"),
            workdir,
            "fast",
        )
        times, results = interleaved(
            {
                "full": lambda: np.stack(full.render(req)),
                "fast": lambda: np.stack(fast.render(req)),
            },
            max(1, args.repeats // 2),
        )
        summary += [
            [f"{full_args.steps} steps, CFG", f"{times['full']:.3f}", "1.00", "reference"],
            [
                "4 steps, guidance 1" + (", LoRA" if lora else ""),
                f"{times['fast']:.3f}",
                f"{times['full'] / times['fast']:.2f}",
                f"PSNR {psnr(results['full'], results['fast']):.1f} dB vs reference"
                + ("" if real else " (random LoRA: timing only)"),
            ],
        ]
        table(
            f"Summary ({time.strftime('%Y-%m-%d', time.gmtime())}, {where}"
            + ("" if real else ", tiny random Wan on CPU")
            + ")",
            ["run", "seconds", "speed-up", "note"],
            summary,
        )


class DenoiserClock:
    """Seconds spent in an engine's transformer per render (forward hooks on the module)."""

    def __init__(self, engine) -> None:
        with engine.pool.lock:
            transformer = engine.pool.get(engine.spec).transformer
        self.per_render: list[float] = []
        self._sum, self._start = 0.0, 0.0
        self._calls, self._steps = 0, engine.steps * 2  # conditional + unconditional passes
        transformer.register_forward_pre_hook(self._pre)
        transformer.register_forward_hook(self._post)

    def _pre(self, *args) -> None:
        self._start = time.perf_counter()

    def _post(self, *args) -> None:
        self._sum += time.perf_counter() - self._start
        self._calls += 1
        if self._calls == self._steps:
            self.per_render.append(self._sum)
            self._sum, self._calls = 0.0, 0

    def median(self) -> float:
        return statistics.median(self.per_render[1:])  # without the warm-up


if __name__ == "__main__":
    main()
