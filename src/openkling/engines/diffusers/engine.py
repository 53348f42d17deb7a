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

log = logging.getLogger(__name__)


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
        loader: Callable[[LoadSpec], Any] = load_pipeline,
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
        )

    @classmethod
    def from_profile(cls, profile: ModelProfile, family: Family, pool: PipelinePool):
        """Check the weights' structure and the profile's sizes now; load the weights later."""
        assert profile.weights is not None
        index = check_pipeline_dir(profile, profile.weights, family.class_names, family.pipeline)
        layout = family.layout(profile, index)
        check_sizes(profile, profile.resolution, layout.size_multiple)
        return cls(profile, family, layout, pool)

    # --- the VideoEngine interface -----------------------------------------------------------

    def output_size(self, mode: str, aspect_ratio: str) -> tuple[int, int]:
        try:
            return self.resolutions[mode][aspect_ratio]
        except KeyError:
            raise EngineError(f"{self.name}: no size for mode {mode!r}, {aspect_ratio}") from None

    def frame_plan(self, duration_s: float) -> tuple[int, float]:
        frames = frames_for(duration_s, self.fps, self.layout.frame_step)
        if self.layout.max_frames and frames > self.layout.max_frames:
            log.warning(
                "%s: %d frames for %ss is beyond the %d frames %s was trained on",
                self.profile.model,
                frames,
                duration_s,
                self.layout.max_frames,
                self.profile.weights,
            )
        return frames, self.fps

    def canvas_size(self, width: int, height: int) -> tuple[int, int]:
        m = self.layout.size_multiple
        return max(m, round_up(width, m)), max(m, round_up(height, m))

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
        self._check(request)
        import torch

        guidance = guidance_for(request.cfg_scale, *self.guidance)
        hook = StepHook(self.steps, self._timed(on_step), should_stop)
        args: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or None,
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
        return frames

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
