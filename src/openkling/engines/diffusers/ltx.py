"""LTX-Video (0.9.x) on LTXPipeline: frames 8k+1 at 24 fps, sizes in multiples of 32."""

from __future__ import annotations

from typing import Any

from ..base import RenderRequest
from ..profiles import ModelProfile
from .common import Family, Layout, component_config

RESOLUTIONS = {
    "std": {"16:9": (832, 480), "9:16": (480, 832), "1:1": (608, 608)},
    "pro": {"16:9": (1280, 704), "9:16": (704, 1280), "1:1": (960, 960)},
}


def _layout(profile: ModelProfile, index: dict[str, Any]) -> Layout:
    assert profile.weights is not None
    vae = component_config(profile.weights, "vae")
    transformer = component_config(profile.weights, "transformer")
    scaling = sum(bool(s) for s in vae.get("spatio_temporal_scaling", (True, True, True, False)))
    spatial = vae.get("spatial_compression_ratio") or vae.get("patch_size", 4) * 2**scaling
    temporal = vae.get("temporal_compression_ratio") or vae.get("patch_size_t", 1) * 2**scaling
    return Layout(
        frame_step=int(temporal) * int(transformer.get("patch_size_t", 1)),
        # LTXPipeline.check_inputs insists on multiples of 32 whatever the VAE does
        size_multiple=max(32, int(spatial) * int(transformer.get("patch_size", 1))),
        fps=24.0,
        max_frames=257,  # LTX-Video's longest trained clip
    )


def _call_args(request: RenderRequest, guidance: float, profile: ModelProfile) -> dict[str, Any]:
    # frame_rate scales LTX's rotary time positions; it must match the delivered fps
    return {"guidance_scale": guidance, "frame_rate": request.fps}


LTX = Family(
    name="ltx",
    pipeline="LTXPipeline",
    class_names=("LTXPipeline", "LTXConditionPipeline"),
    default_steps=50,
    default_guidance=(1.0, 5.0),  # cfg_scale 0.5 -> 3.0, the LTXPipeline default
    resolutions=RESOLUTIONS,
    layout=_layout,
    call_args=_call_args,
)
