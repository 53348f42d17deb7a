"""DiffusersEngine: a VideoEngine over one diffusers pipeline, loaded once and kept warm."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ...errors import EngineError, GenerationCancelled
from ...observability import metrics
from ..base import Capabilities, RenderRequest, StepCallback, StopCheck
from ..profiles import ModelProfile
from .common import (
    Family,
    Layout,
    LoadSpec,
    Resolutions,
    StepHook,
    check_pipeline_dir,
    check_sizes,
    derive_pipeline,
    frames_for,
    guidance_for,
    load_pipeline,
    round_up,
    to_uint8_frames,
)
from .production import check_production

log = logging.getLogger(__name__)


def load_on_devices(spec: LoadSpec) -> Any:
    """``load_pipeline`` on one device; with several ``devices``, a group of ranks."""
    if len(spec.devices) > 1:
        from .ranks import RankGroup  # processes of their own: only where they are asked for

        return RankGroup(spec)
    return load_pipeline(spec)


class PipelinePool:
    """The loaded pipelines of one process, at most ``capacity`` sets of weights, least
    recently used evicted.

    Pipelines of different classes over the same weights and settings (LTX's text and image
    pipelines) share their components through ``from_pipe`` and count once. An evicted
    pipeline is released, and its memory freed, before the next one loads: a GPU never holds
    both. ``lock`` serialises loading and generation: a device runs one generation at a time.
    """

    def __init__(
        self,
        capacity: int = 1,
        loader: Callable[[LoadSpec], Any] = load_on_devices,
        derive: Callable[[LoadSpec, Any], Any] = derive_pipeline,
    ):
        self.capacity = capacity
        self.lock = threading.RLock()
        self._loader = loader
        self._derive = derive
        # one entry per set of weights: pipeline class -> pipeline
        self._pipes: OrderedDict[LoadSpec, dict[str, Any]] = OrderedDict()

    def get(self, spec: LoadSpec) -> Any:
        """The pipeline for ``spec``, loading it on first use. Call with ``lock`` held."""
        key = spec.shared()
        entry = self._pipes.get(key)
        if entry is not None and any(getattr(p, "broken", False) for p in entry.values()):
            self._pipes.move_to_end(key, last=False)  # a rank group that failed: reload it
            self._evict()
            entry = None
        if entry is not None:
            self._pipes.move_to_end(key)
            if spec.pipeline not in entry:
                base = next(iter(entry.values()))
                entry[spec.pipeline] = self._guarded(spec, lambda: self._derive(spec, base))
            return entry[spec.pipeline]
        while self._pipes and len(self._pipes) >= self.capacity:
            self._evict()
        pipe = self._guarded(spec, lambda: self._loader(spec))
        self._pipes[key] = {spec.pipeline: pipe}
        return pipe

    def fits(self, spec: LoadSpec) -> bool:
        """Whether ``spec`` is loaded or can load without evicting another pipeline."""
        return spec.shared() in self._pipes or len(self._pipes) < self.capacity

    def loaded(self) -> list[LoadSpec]:
        return [replace(key, pipeline=name) for key, entry in self._pipes.items() for name in entry]

    def clear(self) -> None:
        """Release every pipeline (process shutdown)."""
        while self._pipes:
            self._evict()

    def _evict(self) -> None:
        key, entry = self._pipes.popitem(last=False)
        log.info("unloading %s from %s to make room", ", ".join(entry), key.weights)
        for pipe in entry.values():
            close = getattr(pipe, "close", None)  # a group of ranks: stop its processes
            if close is not None:
                close()
        entry.clear()  # the last references: nothing of the old pipeline survives this call
        del entry
        _free_memory()

    @staticmethod
    def _guarded(spec: LoadSpec, load: Callable[[], Any]) -> Any:
        try:
            return load()
        except Exception as exc:
            _free_memory()
            raise EngineError(
                f"cannot load {spec.pipeline} from {spec.weights}: {type(exc).__name__}: {exc}"
            ) from exc


class DiffusersEngine:
    """Text-to-video through a diffusers pipeline of one family, per a deployment profile."""

    def __init__(self, profile: ModelProfile, family: Family, layout: Layout, pool: PipelinePool):
        assert profile.weights is not None
        self.name = f"diffusers-{family.name}"
        self.capabilities = Capabilities(camera_phrase=True)
        self.profile = profile
        self.family = family
        self.layout = layout
        self.pool = pool
        self.fps = profile.fps or layout.fps
        self.steps = profile.steps or family.default_steps
        self.guidance = profile.guidance or family.default_guidance
        defaults = layout.resolutions or family.resolutions
        self.resolutions = _merge(defaults, profile.resolution, layout.size_multiple)
        self.spec = LoadSpec(
            pipeline=family.pipeline,
            weights=profile.weights,
            device=profile.device,
            dtype=profile.dtype,
            cpu_offload=profile.cpu_offload,
            vae_tiling=profile.vae_tiling,
            vae_slicing=profile.vae_slicing,
            cache=profile.cache,
            compile=profile.compile,
            denoisers=family.denoisers,
            scheduler=profile.scheduler,
            vae_dtype=profile.vae_dtype,
            loras=profile.loras,
            quantize=profile.quantize,
            devices=profile.devices,
            parallel=profile.parallel,
        )
        # the longest single pass: the profile's max_frames, else the length it was trained on
        self.max_frames = profile.max_frames or layout.max_frames
        # the image-to-video engine that continues a long video from its last frame
        self.continuation: DiffusersEngine | None = None

    @classmethod
    def from_profile(cls, profile: ModelProfile, family: Family, pool: PipelinePool):
        """Check the weights' structure and the profile's sizes now; load the weights later."""
        assert profile.weights is not None
        index = check_pipeline_dir(profile, profile.weights, family.class_names, family.pipeline)
        layout = family.layout(profile, index)
        check_sizes(profile, profile.resolution, layout.size_multiple)
        engine = cls(profile, family, layout, pool)
        check_production(engine, index)
        return engine

    # --- the VideoEngine interface -----------------------------------------------------------

    def output_size(self, mode: str, aspect_ratio: str) -> tuple[int, int]:
        try:
            return self.resolutions[mode][aspect_ratio]
        except KeyError:
            raise EngineError(f"{self.name}: no size for mode {mode!r}, {aspect_ratio}") from None

    def frame_plan(self, duration_s: float) -> tuple[int, float]:
        return frames_for(duration_s, self.fps, self.layout.frame_step), self.fps

    def canvas_size(self, width: int, height: int) -> tuple[int, int]:
        if self.layout.fixed_size is not None:  # a camera move crops inside the native size
            return self.layout.fixed_size
        m = self.layout.size_multiple
        return max(m, round_up(width, m)), max(m, round_up(height, m))

    def longest(self, frames: int) -> bool:
        """Whether ``frames`` can be served: in one pass, or in segments when the profile
        continues long videos through an image-to-video pipeline."""
        if not self.max_frames or frames <= self.max_frames:
            return True
        return self.profile.long_video == "segments" and self.continuation is not None

    def preload(self) -> bool:
        """Load the pipeline now rather than on the first render, if the pool has room for it
        without evicting another; whether it is loaded."""
        with self.pool.lock:
            if not self.pool.fits(self.spec):
                log.info(
                    "warm-up: %s not loaded (max_loaded_pipelines = %d is full); it loads on "
                    "its first task",
                    self.spec.weights,
                    self.pool.capacity,
                )
                return False
            self.pool.get(self.spec)
            return True

    def render(
        self,
        request: RenderRequest,
        *,
        on_step: StepCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> list[np.ndarray]:
        if self.max_frames and request.num_frames > self.max_frames:
            if not self.longest(request.num_frames):
                raise EngineError(
                    f"{self.name}: {request.num_frames} frames is beyond the {self.max_frames} "
                    f"frames {self.profile.weights} renders in one pass, and the profile does "
                    'not continue long videos (long_video = "segments" with an [i2v] table)'
                )
            return self._segments(request, on_step, should_stop)
        return self._render_one(request, on_step, should_stop)

    def _segments(
        self, request: RenderRequest, on_step: StepCallback | None, should_stop: StopCheck | None
    ) -> list[np.ndarray]:
        """Render ``request`` in passes of at most ``max_frames``, each continuing from the
        previous one's last frame through the image-to-video pipeline (that frame is not
        repeated). The last pass keeps the request's end frame, if any."""
        assert self.max_frames is not None and self.continuation is not None
        lengths = segment_lengths(
            request.num_frames, self.max_frames, self.continuation.max_frames or self.max_frames,
            self.layout.frame_step,
        )  # fmt: skip
        frames: list[np.ndarray] = []
        for index, length in enumerate(lengths):
            engine = self if index == 0 else self.continuation

            def step(done: int, total: int, index: int = index) -> None:
                if on_step is not None:
                    on_step(index * total + done, len(lengths) * total)

            part = replace(
                request,
                num_frames=length,
                seed=(request.seed + index * SEGMENT_SEED_STRIDE) % 2**63,
                image=request.image if index == 0 else frames[-1],
                image_tail=request.image_tail if index == len(lengths) - 1 else None,
            )
            rendered = engine._render_one(part, step, should_stop)
            frames.extend(rendered if index == 0 else rendered[1:])
        return frames[: request.num_frames]

    def _render_one(
        self, request: RenderRequest, on_step: StepCallback | None, should_stop: StopCheck | None
    ) -> list[np.ndarray]:
        self._check(request)
        import torch

        wanted = request.num_frames
        if self.layout.fixed_frames is not None:  # learned positions: always its own length
            request = replace(request, num_frames=self.layout.fixed_frames)
        reverse = request.image is None and request.image_tail is not None
        if reverse:  # only a last frame: render from it and play backwards, to end on it
            request = replace(request, image=request.image_tail, image_tail=None)
        guidance = guidance_for(request.cfg_scale, *self.guidance)
        hook = StepHook(self.steps, self._timed(on_step), should_stop)
        negative = request.negative_prompt or self.profile.negative_prompt
        args: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": negative or None,
            "width": request.width,
            "height": request.height,
            "num_frames": request.num_frames,
            "num_inference_steps": self.steps,
            "generator": torch.Generator("cpu").manual_seed(request.seed & 0xFFFF_FFFF_FFFF_FFFF),
            "output_type": "np",
            "callback_on_step_end": hook,
            **self.family.call_args(request, guidance, self.profile),
            **self.profile.pipeline_args,
        }
        with self.pool.lock:
            if should_stop is not None and should_stop():
                raise GenerationCancelled("cancelled before generation started")
            pipe = self.pool.get(self.spec)
            cuda = torch.cuda.is_available()
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            try:
                if getattr(pipe, "is_rank_group", False):  # one job across several devices
                    output = pipe.run(args, request.seed, hook)
                else:
                    output = pipe(**args)
            except Exception as exc:
                reset_pipeline(pipe)  # cache hooks and offload state back to a clean start
                if exc is hook.raised:  # the caller's own: cancelled, timed out, lease lost
                    raise
                if isinstance(exc, torch.cuda.OutOfMemoryError):
                    _free_memory()
                    raise EngineError(
                        f"out of GPU memory rendering {request.width}x{request.height}, "
                        f"{request.num_frames} frames with {self.family.pipeline} from "
                        f"{self.profile.weights}: lower the resolution or duration, or set "
                        'cpu_offload = "model" / vae_tiling = true in the profile'
                    ) from exc
                raise EngineError(
                    f"{self.family.pipeline} failed: {type(exc).__name__}: {exc}"
                ) from exc
            if cuda:
                peak = torch.cuda.max_memory_allocated()
                metrics.GPU_MEMORY_PEAK.labels(self.profile.model).set(peak)
        frames = to_uint8_frames(output.frames)
        want = (request.height, request.width, 3)
        if len(frames) != request.num_frames or any(f.shape != want for f in frames):
            got = frames[0].shape if frames else None
            raise EngineError(
                f"{self.family.pipeline} returned {len(frames)} frames of {got}, "
                f"expected {request.num_frames} of {want}"
            )
        if reverse:
            frames.reverse()
        return frames[:wanted]

    def _timed(self, on_step: StepCallback | None) -> StepCallback:
        """``on_step`` that also times each denoising step (from one step's end to the next;
        the first step, which includes prompt encoding, is not a denoising time)."""
        series = metrics.DENOISE_STEP_SECONDS.labels(self.profile.model)
        last: list[float | None] = [None]

        def step(done: int, total: int) -> None:
            now = time.perf_counter()
            if last[0] is not None:
                series.observe(now - last[0])
            last[0] = now
            if on_step is not None:
                on_step(done, total)

        return step

    def _check(self, request: RenderRequest) -> None:
        fixed, frames = self.layout.fixed_size, self.layout.fixed_frames
        if fixed is not None and (request.width, request.height) != fixed:
            raise EngineError(
                f"{self.name}: canvas {request.width}x{request.height}; {self.profile.weights} "
                f"renders exactly {fixed[0]}x{fixed[1]} (learned position embeddings)"
            )
        if frames is not None:
            if not 1 <= request.num_frames <= frames:
                raise EngineError(
                    f"{self.name}: {request.num_frames} frames; {self.profile.weights} renders "
                    f"exactly {frames} (fewer are cut from them)"
                )
            return
        m, step = self.layout.size_multiple, self.layout.frame_step
        if request.width % m or request.height % m or min(request.width, request.height) < m:
            raise EngineError(
                f"{self.name}: canvas {request.width}x{request.height} is not a multiple of {m} "
                f"(nearest: {self.canvas_size(request.width, request.height)})"
            )
        if request.num_frames < 1 or (request.num_frames - 1) % step:
            raise EngineError(
                f"{self.name}: {request.num_frames} frames; expected {step}k+1 (see frame_plan)"
            )


SEGMENT_SEED_STRIDE = 1_000_033  # segment i of a long video renders with seed + i * this


def segment_lengths(total: int, first_max: int, next_max: int, step: int) -> list[int]:
    """Frame counts of the passes of a long video: the first renders up to ``first_max``, each
    later one repeats the previous last frame and adds up to ``next_max - 1`` new ones. Every
    count is of the form ``step * k + 1``; the last is the shortest that reaches ``total``."""

    def fit(frames: int, limit: int) -> int:
        longest = (limit - 1) // step * step + 1
        return min(longest, round_up(max(frames - 1, 0), step) + 1)

    lengths = [fit(total, first_max)]
    have = lengths[0]
    while have < total:
        length = fit(total - have + 1, next_max)
        if length < 2:
            raise EngineError(f"max_frames {next_max} leaves no room to continue a video")
        lengths.append(length)
        have += length - 1
    return lengths


def _merge(defaults: Resolutions, chosen: Resolutions, m: int) -> Resolutions:
    """Profile sizes over the family's defaults; defaults rounded up to the weights' multiple."""
    merged = {
        mode: {r: (max(m, round_up(w, m)), max(m, round_up(h, m))) for r, (w, h) in ratios.items()}
        for mode, ratios in defaults.items()
    }
    for mode, ratios in chosen.items():
        merged.setdefault(mode, {}).update(ratios)
    return merged


def reset_pipeline(pipe: Any) -> None:
    """After an interrupted call: reset cache-hook state and put offloaded models back."""
    try:
        pipe.maybe_free_model_hooks()
    except Exception:  # the pipeline is still usable; the next call re-primes its hooks
        log.exception("could not reset pipeline hooks")


def _free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
