"""The worker: claim a task, run engine -> camera -> media -> storage, record the result."""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

from .camera import plan_camera
from .config import Settings
from .engines.base import RenderRequest
from .engines.registry import EngineRegistry
from .errors import EngineError, GenerationCancelled
from .media import encode_mp4, probe
from .request import GenerationRequest
from .storage.base import Storage
from .tasks.lifecycle import CANCELLED_MSG, Lifecycle

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker owns the task now (our lease ran out); drop our result."""


class _Heartbeat:
    """Renews the task's lease in the background and carries progress and cancel flags."""

    def __init__(self, lifecycle: Lifecycle, task_id: str, owner: str, interval: float) -> None:
        self.lifecycle, self.task_id, self.owner = lifecycle, task_id, owner
        self.interval = interval
        self.progress: int | None = None
        self.cancelled = False
        self.lost = False
        self.released = False  # handed back on shutdown: renew no more
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{task_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def beat(self) -> None:
        if self.released:
            return
        try:
            ours, cancel = self.lifecycle.renew(self.task_id, self.owner, self.progress)
        except Exception:  # a database hiccup: try again next beat
            log.exception("task %s: lease renewal failed", self.task_id)
            return
        self.lost = self.lost or not ours
        self.cancelled = self.cancelled or cancel

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()


class Worker:
    def __init__(
        self,
        settings: Settings,
        lifecycle: Lifecycle,
        registry: EngineRegistry,
        storage: Storage,
        *,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.lifecycle = lifecycle
        self.registry = registry
        self.storage = storage
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"
        self.scratch = settings.data_dir / "tmp"
        self._running: dict[str, tuple[str, _Heartbeat]] = {}
        self._running_lock = threading.Lock()
        self._clear_leftovers()

    def _clear_leftovers(self) -> None:
        """Remove scratch folders left by a killed process: any older than the task timeout
        (a live run cannot be) may go, so workers sharing the folder are safe."""
        if not self.scratch.is_dir():
            return
        cutoff = time.time() - self.settings.task_timeout_seconds - 60
        for entry in self.scratch.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
            except FileNotFoundError:
                pass

    def release_all(self) -> None:
        """On shutdown: hand back the tasks running here so the next process takes them at
        once instead of waiting for their leases to run out. Their runs stop at the next step
        without writing a result."""
        with self._running_lock:
            running = list(self._running.items())
        for task_id, (owner, hb) in running:
            hb.released = True
            hb.lost = True
            if self.lifecycle.release(task_id, owner):
                log.info("task %s: handed back for the next worker", task_id)

    def run(self, task_id: str) -> None:
        """Run one task if we can claim it. Always ends it succeed or failed, unless our lease
        was lost (then the new owner ends it)."""
        owner = f"{self.owner}-{uuid.uuid4().hex[:6]}"
        task = self.lifecycle.claim(task_id, owner)
        if task is None:
            return
        request = GenerationRequest.model_validate(task.request)
        started = time.monotonic()
        interval = max(self.settings.lease_seconds / 3, 0.2)
        with _Heartbeat(self.lifecycle, task_id, owner, interval) as hb:
            with self._running_lock:
                self._running[task_id] = (owner, hb)
            try:
                result = self._generate(task_id, task.attempts, task.seed, request, hb, started)
            except LeaseLost:
                log.warning("task %s: lease lost, leaving it to its new owner", task_id)
                return
            except GenerationCancelled:
                self.lifecycle.finish(task_id, owner, error=CANCELLED_MSG)
                return
            except EngineError as exc:
                log.warning("task %s failed: %s", task_id, exc)
                self.lifecycle.finish(task_id, owner, error=str(exc) or "generation failed")
                return
            except Exception as exc:
                log.exception("task %s: unexpected error", task_id)
                self.lifecycle.finish(task_id, owner, error=f"internal error: {type(exc).__name__}")
                return
            finally:
                with self._running_lock:
                    self._running.pop(task_id, None)
        if not self.lifecycle.finish(task_id, owner, result=result):
            log.warning("task %s: result not recorded (task no longer ours)", task_id)

    def _generate(
        self,
        task_id: str,
        attempt: int,
        seed: int,
        req: GenerationRequest,
        hb: _Heartbeat,
        started: float,
    ) -> dict:
        engine = self.registry.video(req.model_name)
        width, height = engine.output_size(req.mode, req.aspect_ratio)
        num_frames, fps = engine.frame_plan(req.duration)
        camera = plan_camera(req.camera_control)
        overscan = camera.overscan_for(width, height)
        canvas_w, canvas_h = engine.canvas_size(
            math.ceil(width * overscan), math.ceil(height * overscan)
        )
        prompt = req.prompt
        if camera.prompt_phrase and engine.name != "synthetic":
            prompt = f"{prompt}, {camera.prompt_phrase}"
        log.info(
            "task %s: %s engine, %dx%d (canvas %dx%d), %d frames at %s fps, seed %d",
            task_id,
            engine.name,
            width,
            height,
            canvas_w,
            canvas_h,
            num_frames,
            fps,
            seed,
        )
        timeout = self.settings.task_timeout_seconds
        last_beat = [0.0]

        def on_step(done: int, total: int) -> None:
            hb.progress = min(95, int(95 * done / max(total, 1)))
            now = time.monotonic()
            if now - last_beat[0] > 0.5:  # progress reaches the store a few times a second
                last_beat[0] = now
                hb.beat()

        def should_stop() -> bool:
            if hb.lost:
                raise LeaseLost()
            if time.monotonic() - started > timeout:
                raise EngineError(f"generation timed out after {timeout:.0f} s")
            return hb.cancelled

        audio = None
        if req.sound:
            audio_engine = self.registry.audio(req.model_name)
            if audio_engine is None:
                raise EngineError(f"model {req.model_name} has no audio engine configured")
            audio = audio_engine.render(req.prompt, num_frames / fps, seed)

        frames = engine.render(
            RenderRequest(
                prompt=prompt,
                negative_prompt=req.negative_prompt,
                width=canvas_w,
                height=canvas_h,
                num_frames=num_frames,
                fps=fps,
                cfg_scale=req.cfg_scale,
                seed=seed,
            ),
            on_step=on_step,
            should_stop=should_stop,
        )
        frames = camera.apply(frames, out_width=width, out_height=height, num_frames=num_frames)

        self.scratch.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"{task_id}-", dir=self.scratch))
        try:
            video_path, cover_path = workdir / "video.mp4", workdir / "cover.jpg"
            encode_mp4(
                video_path,
                frames,
                fps=fps,
                width=width,
                height=height,
                audio=audio,
                preset=self.settings.x264_preset,
                cover_path=cover_path,
                expected_frames=num_frames,
            )
            if should_stop():
                raise GenerationCancelled()
            info = probe(video_path)
            video_id = f"{task_id}-{attempt}"
            key, cover_key = f"videos/{video_id}.mp4", f"videos/{video_id}.jpg"
            self.storage.put_file(key, video_path, "video/mp4")
            self.storage.put_file(cover_key, cover_path, "image/jpeg")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return {
            "videos": [
                {
                    "id": video_id,
                    "key": key,
                    "cover_key": cover_key,
                    "duration": info.duration,
                    "width": info.width,
                    "height": info.height,
                    "num_frames": info.num_frames,
                    "fps": fps,
                    "has_audio": info.has_audio,
                    "engine": engine.name,
                    "camera": req.camera_control.type if req.camera_control else None,
                }
            ],
            "seed": seed,
        }
