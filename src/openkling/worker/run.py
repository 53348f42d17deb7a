"""The worker: claim a task, then render -> camera -> audio -> encode -> store -> record."""

from __future__ import annotations

import errno
import itertools
import logging
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Settings
from ..domain.request import GenerationRequest
from ..domain.result import TaskResult, VideoResult
from ..engines.base import RenderRequest, VideoEngine
from ..engines.registry import EngineRegistry
from ..errors import EngineError, GenerationCancelled
from ..media.encode import encode_mp4, probe
from ..media.images import fit
from ..observability import logs, metrics
from ..storage.base import Storage
from ..tasks.lifecycle import CANCELLED_MSG, Lifecycle
from ..tasks.run import Run
from . import continuation
from .inputs import RenderInputs, load_inputs
from .lease import Lease, StopReason
from .pictures import make_pictures
from .plan import RenderPlan, check_inputs, plan_render
from .scratch import Scratch
from .stages import NullObserver, StageClock, WorkerObserver
from .watermark import Mark, make_mark, watermark_video

log = logging.getLogger(__name__)

# a task whose files could not be written: the disk (or the quota) is full
STORAGE_FULL_MSG = "storage full: the result could not be written; the task was refunded"


@dataclass
class _Job:
    """One run in progress: what it renders, on which engine, under which lease."""

    run: Run
    request: GenerationRequest
    engine: VideoEngine
    plan: RenderPlan
    lease: Lease
    clock: StageClock
    workdir: Path

    def checkpoint(self) -> None:
        """Between steps: stop here if the run was cancelled, lost or timed out."""
        if self.lease.should_stop():
            raise GenerationCancelled()


class Worker:
    def __init__(
        self,
        settings: Settings,
        lifecycle: Lifecycle,
        registry: EngineRegistry,
        storage: Storage,
        *,
        owner: str | None = None,
        observer: WorkerObserver | None = None,
    ) -> None:
        self.settings = settings
        self.lifecycle = lifecycle
        self.registry = registry
        self.storage = storage
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"  # this worker's name in logs
        self.observer = observer or NullObserver()
        self.scratch = Scratch(
            settings.data_dir / "tmp", max_age=settings.task_timeout_seconds + 60
        )
        # the models this worker serves (a scale-out worker: its --models)
        self.models: list[str] = list(registry.catalog.names)
        self._running: dict[str, Run] = {}
        self._running_lock = threading.Lock()
        self.scratch.clear_dead()  # what killed processes left behind

    def release_all(self) -> None:
        """On shutdown: hand back the tasks running here so the next process takes them at
        once instead of waiting for their leases to run out."""
        with self._running_lock:
            running = list(self._running.values())
        for run in running:
            if run.release():
                log.info("task %s: handed back for the next worker", run.task_id)

    def run(self, task_id: str) -> None:
        """Run one task if we can claim it. Always ends it succeed or failed, unless the run
        was lost or handed back (then the task's next run ends it)."""
        with logs.context(task_id=task_id):  # every log line of the run names its task
            run = self.lifecycle.claim(task_id, self.owner)
            if run is None:
                return
            with logs.context(model=run.model_name, account=run.account_id):
                self._run_claimed(run)

    def run_next(self, *, loaded: str | None = None) -> str | None:
        """Run the task the fair claim gives this worker next (tasks/scheduling.py); ``loaded``
        is the model of the caller's previous run, whose pipeline is still loaded. Returns
        the model run, or None when no task waits."""
        run = self.lifecycle.claim_next(self.models, self.owner, loaded=loaded)
        if run is None:
            return None
        metrics.worker_claim(run.model_name, loaded)
        with logs.context(task_id=run.task_id, model=run.model_name, account=run.account_id):
            self._run_claimed(run)
        return run.model_name

    def _run_claimed(self, run: Run) -> None:
        task_id = run.task_id
        log.info("task %s: attempt %d on %s", task_id, run.attempt, self.owner)
        self.scratch.clear_task(task_id)  # an earlier, killed attempt's files
        interval = max(self.settings.lease_seconds / 3, 0.2)
        with Lease(run, interval=interval, timeout=self.settings.task_timeout_seconds) as lease:
            with self._running_lock:
                self._running[task_id] = run
            try:
                self._attempt(run, lease)
            finally:
                with self._running_lock:
                    self._running.pop(task_id, None)

    def _attempt(self, run: Run, lease: Lease) -> None:
        """Generate, then record the outcome: the one place a run's failures are sorted."""
        try:
            result = self._generate(run, lease)
        except GenerationCancelled as exc:
            reason = lease.stop_reason()
            if reason is StopReason.LOST:
                log.warning("task %s: lease lost, leaving it to its next run", run.task_id)
                return
            if reason is StopReason.TIMED_OUT:
                run.fail(f"generation timed out after {lease.timeout:.0f} s")
                return
            run.fail(CANCELLED_MSG if reason is StopReason.CANCELLED else str(exc) or "stopped")
            return
        except EngineError as exc:
            log.warning("task %s failed: %s", run.task_id, exc)
            run.fail(str(exc) or "generation failed")
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                log.exception("task %s: unexpected error", run.task_id)
                run.fail(f"internal error: {type(exc).__name__}")
                return
            log.warning("task %s failed: storage full while writing its result", run.task_id)
            run.fail(STORAGE_FULL_MSG)  # failed tasks are refunded
            self._discard(self._attempt_keys(run))  # what part of it was written
            return
        except Exception as exc:
            log.exception("task %s: unexpected error", run.task_id)
            run.fail(f"internal error: {type(exc).__name__}")
            return
        if not run.succeed(result):  # another run owns the task: its files are not ours
            log.warning("task %s: result not recorded (task no longer ours)", run.task_id)
            self._discard(result.keys())

    def _discard(self, keys: Iterable[str]) -> None:
        """Remove files this run wrote that no task records (a lost lease, a failed write):
        each attempt writes under its own keys, so nothing another run wrote is touched."""
        for key in keys:
            try:
                self.storage.delete(key)
            except Exception:  # logged; retention cannot find it, so say which
                log.exception("could not remove unrecorded file %s", key)

    def _attempt_keys(self, run: Run) -> list[str]:
        video_id = f"{run.task_id}-{run.attempt}"
        return [f"videos/{video_id}{suffix}" for suffix in (".mp4", ".jpg", ".watermark.mp4")]

    def _generate(self, run: Run, lease: Lease) -> TaskResult:
        request = run.request
        if request.makes_images:  # still pictures: their own steps, no video pipeline
            return make_pictures(
                task_id=run.task_id,
                attempt=run.attempt,
                request=request,
                seed=run.seed,
                engine=self.registry.picture(request.model_name),
                storage=self.storage,
                report=lease.report,
                should_stop=lease.should_stop,
            )
        if request.references:
            engine = self.registry.references(request.model_name)
        else:  # an extension continues from its parent's last frame: an image request
            image = request.has_image or request.parent is not None
            engine = self.registry.video(request.model_name, image=image)
        check_inputs(request, engine)
        plan = plan_render(run.request, engine, seed=run.seed)
        log.info(
            "task %s: %s engine, %dx%d (canvas %dx%d), %d frames at %s fps in %d shot(s), seed %d",
            run.task_id,
            engine.name,
            plan.width,
            plan.height,
            plan.canvas_w,
            plan.canvas_h,
            plan.num_frames,
            plan.fps,
            len(plan.shots),
            plan.seed,
        )
        workdir = self.scratch.make(run.task_id)
        job = _Job(run, run.request, engine, plan, lease, StageClock(), workdir)
        try:
            result = self._steps(job)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        job.clock.report(self.observer, run.model_name)
        return result

    def _steps(self, job: _Job) -> TaskResult:
        """The body of a run, in numbered steps as a pipeline's ``__call__``."""
        plan, clock = job.plan, job.clock
        # 1. inputs: the task's stored images, fitted to the canvas; for an extension, the
        # parent video and its last frame, where the continuation starts
        parent_path, parent_frames = None, 0
        with clock.stage("inputs"):
            inputs = load_inputs(
                job.request,
                self.storage,
                plan.canvas_w,
                plan.canvas_h,
                first_view=self._first_view(job),
            )
            if job.request.parent is not None:
                parent_path = continuation.parent_file(
                    self.storage, job.request.parent, job.workdir
                )
                last, parent_frames = continuation.last_frame(parent_path)
                inputs.image = fit(last, plan.canvas_w, plan.canvas_h)
        # 2. render every shot, one after another (frames flow lazily into the encoder)
        frames = clock.frames("render", self._render(job, inputs))
        # 3. camera: a viewport moving through the overscanned canvas
        frames = clock.frames(
            "camera",
            plan.camera.apply(
                frames, out_width=plan.width, out_height=plan.height, num_frames=plan.num_frames
            ),
        )
        if parent_path is not None:  # the whole video: the parent, then its continuation
            frames = itertools.chain(continuation.frames(parent_path), frames)
        # 4. audio: one track over the whole video
        with clock.stage("audio"):
            audio = self._audio(job)
        # 5. encode: H.264 (+ AAC), and a cover picture
        video_path, cover_path = job.workdir / "video.mp4", job.workdir / "cover.jpg"
        with clock.stage("encode"):
            encode_mp4(
                video_path,
                frames,
                fps=plan.fps,
                width=plan.width,
                height=plan.height,
                audio=audio,
                preset=self.settings.x264_preset,
                cover_path=cover_path,
                expected_frames=parent_frames + plan.num_frames,
            )
        job.checkpoint()
        # 6. watermark: a copy with the mark, when the request asked for one
        marked_path = None
        if plan.watermark:
            marked_path = job.workdir / "video.watermark.mp4"
            with clock.stage("watermark"):
                self._watermark(video_path, marked_path)
            job.checkpoint()
        # 7. store the files; 8. the result the caller records
        with clock.stage("store"):
            return self._store(job, video_path, cover_path, marked_path)

    @staticmethod
    def _first_view(job: _Job) -> tuple[int, int, np.ndarray] | None:
        """Where a moving camera starts, for an image request: its first frame is the image."""
        plan = job.plan
        if job.request.image is None or plan.camera.is_static:
            return None
        views = plan.camera.transforms(
            out_width=plan.width,
            out_height=plan.height,
            canvas_width=plan.canvas_w,
            canvas_height=plan.canvas_h,
            num_frames=plan.num_frames,
        )
        return plan.width, plan.height, views[0]

    def _render(self, job: _Job, inputs: RenderInputs) -> Iterator[np.ndarray]:
        """The frames of every shot in order, hard cuts between them; progress 0..95 runs
        across all shots by frame count."""
        plan, last = job.plan, len(job.plan.shots) - 1
        # a continuation's first rendered frame is its start picture, the parent's last frame,
        # which the video already has: one more frame is rendered and that one dropped
        lead = 1 if job.request.parent is not None else 0
        effect = job.request.effect
        for index, shot in enumerate(plan.shots):

            def on_step(done: int, total: int, shot=shot) -> None:
                frames_done = shot.start_frame + shot.num_frames * done / max(total, 1)
                job.lease.report(min(95, int(95 * frames_done / plan.num_frames)))

            request = RenderRequest(
                prompt=shot.prompt,
                negative_prompt=plan.negative_prompt,
                width=plan.canvas_w,
                height=plan.canvas_h,
                num_frames=self._render_count(job, shot.render_frames, lead),
                fps=plan.fps,
                cfg_scale=plan.cfg_scale,
                seed=shot.seed,
                image=inputs.image if index == 0 else None,
                image_tail=inputs.image_tail if index == last else None,
                static_mask=inputs.static_mask,
                dynamic_masks=inputs.dynamic_masks,
                references=inputs.references,
                look=effect.look if effect is not None else None,
                lora=effect.lora if effect is not None else None,
                # the camera path moves the picture; an engine adds no motion of its own
                extra={"camera_moves": not plan.camera.is_static},
            )
            frames = job.engine.render(request, on_step=on_step, should_stop=job.lease.should_stop)
            yield from itertools.islice(frames, lead, lead + shot.num_frames)
            # an engine's frame rule may render more than the shot keeps: its last steps
            # are not awaited, so the shot's share is reported done here
            job.lease.report(
                min(95, int(95 * (shot.start_frame + shot.num_frames) / plan.num_frames))
            )
            job.checkpoint()

    @staticmethod
    def _render_count(job: _Job, frames: int, lead: int) -> int:
        """``frames`` and ``lead`` more, rounded up to a count the engine renders (its frame
        rule, e.g. 4k+1)."""
        if not lead:
            return frames
        return max(frames + lead, job.engine.frame_plan((frames + lead) / job.plan.fps)[0])

    def _audio(self, job: _Job) -> np.ndarray | None:
        if not job.plan.audio:
            return None
        audio_engine = self.registry.audio(job.request.model_name)
        if audio_engine is None:
            raise EngineError(f"model {job.request.model_name} has no audio engine configured")
        return audio_engine.render(job.plan.audio_prompt, job.plan.seconds, job.plan.seed)

    def _watermark(self, video_path: Path, marked_path: Path) -> None:
        settings = self.settings

        def mark_for(width: int, height: int) -> Mark:
            return make_mark(
                width,
                height,
                text=settings.watermark_text,
                image=settings.watermark_image,
                corner=settings.watermark_corner,
            )

        try:
            watermark_video(video_path, marked_path, mark_for, preset=settings.x264_preset)
        except OSError as exc:  # an unreadable OPENKLING_WATERMARK_IMAGE
            raise EngineError(f"watermark image cannot be used: {type(exc).__name__}") from None

    def _store(
        self, job: _Job, video_path: Path, cover_path: Path, marked_path: Path | None = None
    ) -> TaskResult:
        info = probe(video_path)
        video_id = f"{job.run.task_id}-{job.run.attempt}"
        key, cover_key = f"videos/{video_id}.mp4", f"videos/{video_id}.jpg"
        self.storage.put_file(key, video_path, "video/mp4")
        self.storage.put_file(cover_key, cover_path, "image/jpeg")
        watermark_key = None
        if marked_path is not None:
            watermark_key = f"videos/{video_id}.watermark.mp4"
            self.storage.put_file(watermark_key, marked_path, "video/mp4")
        video = VideoResult(
            id=video_id,
            key=key,
            cover_key=cover_key,
            duration=info.duration,
            width=info.width,
            height=info.height,
            num_frames=info.num_frames,
            fps=job.plan.fps,
            has_audio=info.has_audio,
            engine=job.engine.name,
            camera=job.plan.camera_type,
            watermark_key=watermark_key,
        )
        return TaskResult(videos=[video], seed=job.plan.seed)
