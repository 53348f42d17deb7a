"""Startup checks of a profile's production keys against its weights: LoRA files, torchao
quantisation, VAE dtype, the context-parallel degree, the trained length and the memory the
TaylorSeer cache would take. Each refusal names the key and what would work."""

from __future__ import annotations

import importlib.util
import math
from typing import Any, Protocol

from ..profiles import ModelProfile, ProfileError
from .common import Family, Layout, Resolutions, component_config, round_up


class DiffusersEngine(Protocol):
    """What the checks read of an engine (``engine.DiffusersEngine``, which imports them)."""

    profile: ModelProfile
    family: Family
    layout: Layout
    resolutions: Resolutions
    max_frames: int | None

    def frame_plan(self, duration_s: float) -> tuple[int, float]: ...


# families whose pipelines decode in the prompt's dtype: a VAE of another dtype fails there
_VAE_FOLLOWS_PROMPT = ("cogvideox", "cogvideox-i2v")
TAYLORSEER_BUDGET_GB = 20.0  # default cache budget (taylorseer's memory_gb option)


def check_production(engine: DiffusersEngine, index: dict[str, Any]) -> None:
    profile, layout = engine.profile, engine.layout
    assert profile.weights is not None
    for lora in profile.loras:
        if not lora.path.is_file():
            raise profile.error(f"loras: {lora.path} does not exist (a LoRA .safetensors file)")
        if lora.target != "transformer" and (index.get("transformer_2") or [None])[0] is None:
            raise profile.error(
                f'loras: target "{lora.target}" but {profile.weights} has no transformer_2'
            )
    if profile.quantize is not None and importlib.util.find_spec("torchao") is None:
        raise profile.error(
            f'quantize = "{profile.quantize}" needs torchao: pip install torchao (a build '
            "matching your torch)"
        )
    if profile.quantize == "fp8":
        _check_fp8(profile)
    if profile.vae_dtype is not None and engine.family.name in _VAE_FOLLOWS_PROMPT:
        raise profile.error(
            f"vae_dtype: {engine.family.pipeline} decodes latents in the pipeline's dtype, so "
            "its VAE cannot run in another; leave vae_dtype out for CogVideoX"
        )
    step = layout.frame_step
    if profile.max_frames is not None and (profile.max_frames - 1) % step:
        nearest = (profile.max_frames - 1) // step * step + 1
        raise profile.error(
            f"max_frames = {profile.max_frames}: {engine.family.pipeline} renders {step}k+1 "
            f"frames (nearest below: {nearest})"
        )
    if profile.parallel is not None:
        kind, degree = profile.parallel
        heads = _heads(profile)
        if kind == "ulysses" and heads and heads % degree:
            raise profile.error(
                f"parallel.ulysses = {degree}: the transformer's {heads} attention heads do not "
                f"split evenly over {degree} devices; use a divisor of {heads} or ring"
            )
    if profile.cache is not None and profile.cache.type == "taylorseer":
        need = taylorseer_bytes(engine) / 1e9
        budget = float(profile.cache.get("memory_gb"))
        if need > budget:
            raise profile.error(
                f"cache taylorseer would keep about {need:.1f} GB of Taylor factors at "
                f"{_largest(engine)[0]}x{_largest(engine)[1]} and {_frames(engine)} frames "
                f"(over its memory_gb = {budget:g}); set lite = true, lower max_frames or the "
                "resolution, or raise memory_gb if the device has room"
            )


def _check_fp8(profile: ModelProfile) -> None:
    import torch

    if not torch.cuda.is_available():
        raise profile.error('quantize = "fp8" needs a CUDA GPU; this machine has none')
    major, minor = torch.cuda.get_device_capability()
    if (major, minor) < (8, 9):
        raise profile.error(
            f'quantize = "fp8" needs compute capability 8.9 or newer (Ada, Hopper); this GPU '
            f'has {major}.{minor}: use quantize = "int8"'
        )


def _heads(profile: ModelProfile) -> int | None:
    assert profile.weights is not None
    config = component_config(profile.weights, "transformer")
    heads = config.get("num_attention_heads")
    return int(heads) if heads else None


def _largest(engine: DiffusersEngine) -> tuple[int, int]:
    sizes = [size for ratios in engine.resolutions.values() for size in ratios.values()]
    return max(sizes, key=lambda s: s[0] * s[1])


def _frames(engine: DiffusersEngine) -> int:
    """The longest single pass: max_frames, else a 10 s clip."""
    longest = engine.frame_plan(10)[0]
    return min(longest, engine.max_frames) if engine.max_frames else longest


def taylorseer_bytes(engine: DiffusersEngine) -> int:
    """Bytes of Taylor factors the TaylorSeer cache keeps at the profile's largest size and
    longest pass: per denoiser, per cached module, per CFG pass, (max_order + 1) tensors of
    the module's output (bfloat16). Full mode caches every block's hidden states; lite mode
    only the final projection."""
    profile = engine.profile
    assert profile.weights is not None and profile.cache is not None
    width, height = _largest(engine)
    return taylorseer_estimate(
        profile.weights, engine.family.denoisers, width, height, _frames(engine),
        engine.layout.frame_step, lite=bool(profile.cache.get("lite")),
    )  # fmt: skip


def taylorseer_estimate(
    weights: Any,
    denoisers: tuple[str, ...],
    width: int,
    height: int,
    frames: int,
    temporal: int,
    *,
    lite: bool,
    passes: int = 2,
    max_order: int = 1,
) -> int:
    total = 0
    for name in denoisers:
        config = component_config(weights, name)
        if not config:
            continue
        total += taylorseer_config_bytes(
            config, width, height, frames, temporal, lite=lite, passes=passes,
            max_order=max_order, spatial=_spatial(weights),
        )  # fmt: skip
    return total


def taylorseer_config_bytes(
    config: dict[str, Any],
    width: int,
    height: int,
    frames: int,
    temporal: int,
    *,
    lite: bool,
    spatial: int = 8,
    passes: int = 2,
    max_order: int = 1,
) -> int:
    """The estimate for one denoiser config (also used by the docs' table)."""
    patch = config.get("patch_size") or 2
    patch = list(patch) if isinstance(patch, list | tuple) else [config.get("patch_size_t") or 1,
                                                                 patch, patch]  # fmt: skip
    latent_frames = (frames - 1) // temporal + 1
    tokens = (
        math.ceil(latent_frames / patch[0])
        * (round_up(height, spatial * patch[1]) // (spatial * patch[1]))
        * (round_up(width, spatial * patch[2]) // (spatial * patch[2]))
    )
    heads = int(config.get("num_attention_heads", 1))
    hidden = heads * int(config.get("attention_head_dim", 64))
    blocks = int(config.get("num_layers", 1))
    if lite:
        channels = int(config.get("out_channels") or config.get("in_channels") or 16)
        width_out, modules = channels * patch[0] * patch[1] * patch[2], 1
    else:
        width_out, modules = hidden, blocks
    return modules * passes * (max_order + 1) * tokens * width_out * 2


def _spatial(weights: Any) -> int:
    vae = component_config(weights, "vae")
    if vae.get("scale_factor_spatial"):
        return int(vae["scale_factor_spatial"])
    if vae.get("z_dim") == 48:
        return 16
    if vae.get("spatial_compression_ratio"):
        return int(vae["spatial_compression_ratio"])
    return 8


__all__ = ["ProfileError", "check_production", "taylorseer_bytes", "taylorseer_config_bytes"]
