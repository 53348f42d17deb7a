"""What every diffusers family shares: weight checks, sizes, loading, caching, step callbacks."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import GenerationCancelled
from ..base import RenderRequest, StepCallback, StopCheck
from ..profiles import SCHEDULERS, CacheSpec, LoraSpec, ModelProfile, ProfileError, SchedulerSpec

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

Resolutions = dict[str, dict[str, tuple[int, int]]]


@dataclass(frozen=True)
class Layout:
    """Rules read from one set of weights: frame count step, size multiple, native fps."""

    frame_step: int  # frames = frame_step * k + 1
    size_multiple: int  # width and height are multiples of this
    fps: float
    max_frames: int | None = None  # the length the model was trained on, if it has one
    resolutions: Resolutions | None = None  # defaults for these weights, if not the family's
    fixed_size: tuple[int, int] | None = None  # learned positions: this width x height only
    fixed_frames: int | None = None  # learned positions: this many frames only


@dataclass(frozen=True)
class Family:
    """One model family: how to recognise its weights and how to call its pipeline."""

    name: str
    pipeline: str  # the diffusers class that loads and runs it
    class_names: tuple[str, ...]  # model_index.json _class_name values accepted
    default_steps: int
    default_guidance: tuple[float, float]
    resolutions: Resolutions  # defaults per mode and aspect ratio, overridden by the profile
    layout: Callable[[ModelProfile, dict[str, Any]], Layout]  # reads configs; may raise
    call_args: Callable[[RenderRequest, float, ModelProfile], dict[str, Any]]
    denoisers: tuple[str, ...] = ("transformer",)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ProfileError(f"{path}: cannot read as JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a JSON object")
    return data


def check_pipeline_dir(
    profile: ModelProfile | None, weights: Path, class_names: tuple[str, ...], what: str
) -> dict[str, Any]:
    """The model_index.json of ``weights`` after checking its class and its component folders."""

    def fail(message: str) -> ProfileError:
        return profile.error(message) if profile else ProfileError(message)

    if not weights.is_dir():
        raise fail(f"weights directory {weights} does not exist; expected a {what} pipeline folder")
    index_path = weights / "model_index.json"
    if not index_path.is_file():
        raise fail(
            f"{index_path} is missing; expected a diffusers {what} pipeline folder "
            f"(saved with save_pretrained or downloaded from a '-Diffusers' repository)"
        )
    index = read_json(index_path)
    found = index.get("_class_name")
    if found not in class_names:
        raise fail(
            f"{index_path} holds a {found!r} pipeline, not {what} "
            f"(expected _class_name {' or '.join(class_names)}): wrong family for these weights"
        )
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or spec[:1] == [None]:
            continue
        folder = weights / name
        if not folder.is_dir():
            raise fail(f"{folder} is missing: model_index.json lists component {name!r}")
        files = {p.name for p in folder.iterdir()}
        if "config.json" in files and not any(
            f.endswith((".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json"))
            for f in files
        ):
            raise fail(f"{folder} has a config.json but no weights (*.safetensors or *.bin)")
    return index


def component_config(weights: Path, component: str) -> dict[str, Any]:
    path = weights / component / "config.json"
    return read_json(path) if path.is_file() else {}


def round_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple - 1e-9)) * multiple


def frames_for(duration_s: float, fps: float, step: int) -> int:
    """Fewest frames of the form ``step * k + 1`` lasting at least ``duration_s`` at ``fps``."""
    needed = max(1, math.ceil(duration_s * fps - 1e-6))
    return round_up(needed - 1, step) + 1


def guidance_for(cfg_scale: float, low: float, high: float) -> float:
    """Kling's cfg_scale 0..1 mapped linearly onto the profile's guidance range."""
    return low + min(max(cfg_scale, 0.0), 1.0) * (high - low)


def check_sizes(profile: ModelProfile, resolutions: Resolutions, multiple: int) -> None:
    for mode, ratios in resolutions.items():
        for ratio, (width, height) in ratios.items():
            for label, value in (("width", width), ("height", height)):
                if value < multiple or value % multiple:
                    nearest = max(multiple, round_up(value, multiple))
                    raise profile.error(
                        f'resolution.{mode}."{ratio}" = [{width}, {height}]: {label} {value} is '
                        f"impossible for these {profile.family} weights; expected a multiple of "
                        f"{multiple} of at least {multiple} (nearest: {nearest})"
                    )


# --- loading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    """Everything that decides how a pipeline is loaded; equal specs share one pipeline."""

    pipeline: str
    weights: Path
    device: str
    dtype: str
    cpu_offload: str = "none"
    vae_tiling: bool = False
    vae_slicing: bool = False
    cache: CacheSpec | None = None
    compile: bool = False
    denoisers: tuple[str, ...] = ("transformer",)
    scheduler: SchedulerSpec | None = None
    vae_dtype: str | None = None
    loras: tuple[LoraSpec, ...] = ()
    quantize: str | None = None
    devices: tuple[str, ...] = ()  # more than one: a group of ranks (see ranks.py)
    parallel: tuple[str, int] | None = None

    def shared(self) -> LoadSpec:
        """This spec with the pipeline class left out: specs equal here share components.
        A group of ranks holds its pipeline in other processes: it shares nothing."""
        return self if len(self.devices) > 1 else replace(self, pipeline="")


def derive_pipeline(spec: LoadSpec, base: Any) -> Any:
    """A pipeline of ``spec.pipeline`` over ``base``'s components (no weights loaded)."""
    import diffusers

    pipe = getattr(diffusers, spec.pipeline).from_pipe(base)
    pipe.set_progress_bar_config(disable=True)
    log.info("derived %s from the loaded %s", spec.pipeline, type(base).__name__)
    return pipe


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f'device = "{device}" but torch sees no CUDA GPU on this machine')
    return device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


# torchao quantisation types (diffusers' TorchAoConfig names) for the profile's ``quantize``
QUANT_TYPES = {"int8": "int8wo", "fp8": "float8wo_e4m3"}


def load_pipeline(spec: LoadSpec) -> Any:
    """Load weights from local disk only and apply quantisation, scheduler, LoRAs, device,
    offload, VAE, cache and compile, on one device (several: ``engine.load_on_devices``)."""
    import diffusers
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    # loading bars are noise in a service log; the "loaded" line below says what happened
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    device = resolve_device(spec.devices[0] if spec.devices else spec.device)
    dtype = resolve_dtype(spec.dtype, device)
    cls = getattr(diffusers, spec.pipeline)
    extra: dict[str, Any] = {}
    if spec.quantize is not None:
        extra["quantization_config"] = diffusers.PipelineQuantizationConfig(
            quant_backend="torchao",
            quant_kwargs={"quant_type": QUANT_TYPES[spec.quantize]},
            components_to_quantize=list(spec.denoisers),
        )
    pipe = cls.from_pretrained(spec.weights, dtype=dtype, local_files_only=True, **extra)
    pipe.set_progress_bar_config(disable=True)
    if spec.scheduler is not None:
        pipe.scheduler = make_scheduler(spec.scheduler, pipe.scheduler.config)
    if spec.loras:
        apply_loras(pipe, spec.loras)
    if spec.vae_dtype is not None and getattr(pipe, "vae", None) is not None:
        pipe.vae.to(resolve_dtype(spec.vae_dtype, device))
    if spec.cpu_offload != "none" and device == "cpu":
        log.warning("offload=%s ignored: running on the CPU", spec.cpu_offload)
        pipe.to(device)
    elif spec.cpu_offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif spec.cpu_offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif spec.cpu_offload == "group":
        group_offload(pipe, device)
    else:
        pipe.to(device)
    vae = getattr(pipe, "vae", None)
    if spec.vae_tiling and vae is not None and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if spec.vae_slicing and vae is not None and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
    found = [getattr(pipe, name, None) for name in spec.denoisers]
    denoisers = [d for d in found if d is not None]
    if spec.cache is not None:
        for denoiser in denoisers:
            denoiser.enable_cache(cache_config(spec.cache, pipe))
    if spec.compile:
        for denoiser in denoisers:
            denoiser.compile()
    log.info(
        "loaded %s from %s on %s (%s as loaded, vae %s, offload=%s, cache=%s, loras=%d, "
        "quantize=%s, compile=%s)",
        spec.pipeline,
        spec.weights,
        device,
        loaded_dtype(denoisers[0]) if denoisers else "?",
        loaded_dtype(vae) if vae is not None else "-",
        spec.cpu_offload,
        spec.cache.type if spec.cache else "none",
        len(spec.loras),
        spec.quantize or "none",
        spec.compile,
    )
    return pipe


def loaded_dtype(module: Any) -> str:
    """The dtype a module's parameters really have (not the one asked for)."""
    for param in module.parameters():
        return str(param.dtype).removeprefix("torch.")
    return "?"


def make_scheduler(scheduler: SchedulerSpec, config: Any) -> Any:
    """The profile's scheduler class over the weights' scheduler config, with its flow shift."""
    import diffusers

    key = SCHEDULERS[scheduler.name]
    shift = {key: scheduler.flow_shift} if key and scheduler.flow_shift is not None else {}
    return getattr(diffusers, scheduler.name).from_config(config, **shift)


def apply_loras(pipe: Any, loras: tuple[LoraSpec, ...]) -> None:
    """Load each LoRA through the pipeline's diffusers LoRA loader, at its scale."""
    names: list[str] = []
    scales: list[float] = []
    for i, lora in enumerate(loras):
        targets = ["transformer", "transformer_2"] if lora.target == "both" else [lora.target]
        for target in targets:
            name = f"lora{i}_{target}"
            kwargs = {"load_into_transformer_2": True} if target == "transformer_2" else {}
            pipe.load_lora_weights(str(lora.path), adapter_name=name, **kwargs)
            names.append(name)
            scales.append(lora.scale)
    pipe.set_adapters(names, adapter_weights=scales)


def group_offload(pipe: Any, device: str) -> None:
    """Group offloading: blocks of the denoisers, VAE and text encoder move to the GPU as they
    run, overlapped with compute on a CUDA stream; the rest of the pipeline stays there."""
    import torch
    from diffusers.hooks import apply_group_offloading

    onload, offload = torch.device(device), torch.device("cpu")
    for name, module in pipe.components.items():
        if not isinstance(module, torch.nn.Module):
            continue
        component: Any = module
        if hasattr(component, "enable_group_offload"):
            component.enable_group_offload(
                onload_device=onload, offload_device=offload, offload_type="leaf_level",
                use_stream=True,
            )  # fmt: skip
        elif name.startswith("text_encoder") or name == "image_encoder":
            apply_group_offloading(
                component, onload_device=onload, offload_device=offload,
                offload_type="block_level", num_blocks_per_group=1,
            )  # fmt: skip
        else:
            component.to(onload)


def cache_config(cache: CacheSpec, pipe: Any) -> Any:
    """The diffusers.hooks config for a profile's ``cache`` table."""
    from diffusers.hooks import (
        FirstBlockCacheConfig,
        PyramidAttentionBroadcastConfig,
        TaylorSeerCacheConfig,
    )

    if cache.type == "first_block":
        return FirstBlockCacheConfig(threshold=float(cache.get("threshold")))
    if cache.type == "pyramid_attention_broadcast":
        return PyramidAttentionBroadcastConfig(
            spatial_attention_block_skip_range=int(cache.get("block_skip_range")),
            spatial_attention_timestep_skip_range=tuple(cache.get("timestep_skip_range")),
            current_timestep_callback=lambda: pipe.current_timestep,
        )
    # taylorseer: without identifiers naming the blocks it silently caches nothing
    return TaylorSeerCacheConfig(
        cache_interval=int(cache.get("cache_interval")),
        disable_cache_before_step=int(cache.get("disable_cache_before_step")),
        use_lite_mode=bool(cache.get("lite")),
        cache_identifiers=None
        if cache.get("lite")
        else [r"^(blocks|transformer_blocks|single_transformer_blocks)\.\d+$"],
    )


class StepHook:
    """The ``callback_on_step_end``: reports progress and stops the loop on cancellation.

    ``raised`` keeps what the caller's callbacks raised (a cancel, a timeout, a lost lease), so
    the engine can let it through unchanged instead of reporting it as a pipeline failure.
    """

    def __init__(self, steps: int, on_step: StepCallback | None, should_stop: StopCheck | None):
        self.steps, self.on_step, self.should_stop = steps, on_step, should_stop
        self.raised: BaseException | None = None

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict:
        total = getattr(pipe, "_num_timesteps", None) or self.steps
        try:
            if self.on_step is not None:
                self.on_step(step + 1, total)
            stop = self.should_stop is not None and self.should_stop()
        except BaseException as exc:
            self.raised = exc
            raise
        if stop:
            self.raised = GenerationCancelled(f"cancelled after step {step + 1} of {total}")
            raise self.raised
        return {}


def to_uint8_frames(video: Any) -> list[Any]:
    """Pipeline output (frames in [0, 1], batch first) -> list of HxWx3 uint8 arrays."""
    import numpy as np

    array = np.asarray(video[0] if len(np.shape(video)) == 5 else video, dtype=np.float32)
    return list((np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
