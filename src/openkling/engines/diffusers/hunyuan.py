"""HunyuanVideo on HunyuanVideoPipeline: frames 4k+1 at 24 fps, sizes in multiples of 16."""

from __future__ import annotations

from typing import Any

from ..base import RenderRequest
from ..profiles import ModelProfile
from .common import Family, Layout, component_config

RESOLUTIONS = {
    "std": {"16:9": (960, 544), "9:16": (544, 960), "1:1": (720, 720)},
    "pro": {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960)},
}


def _layout(profile: ModelProfile, index: dict[str, Any]) -> Layout:
    assert profile.weights is not None
    vae = component_config(profile.weights, "vae")
    transformer = component_config(profile.weights, "transformer")
    return Layout(
        frame_step=int(vae.get("temporal_compression_ratio", 4))
        * int(transformer.get("patch_size_t", 1)),
        size_multiple=max(
            16, int(vae.get("spatial_compression_ratio", 8)) * int(transformer.get("patch_size", 2))
        ),
        fps=24.0,
        max_frames=129,  # trained length (5.4 s)
    )


def _call_args(request: RenderRequest, guidance: float, profile: ModelProfile) -> dict[str, Any]:
    # HunyuanVideo is guidance-distilled: guidance_scale is an input of the model, not CFG.
    # Real CFG (and so negative_prompt) needs pipeline_args = {true_cfg_scale = 6.0}.
    return {"guidance_scale": guidance}


HUNYUAN = Family(
    name="hunyuan",
    pipeline="HunyuanVideoPipeline",
    class_names=("HunyuanVideoPipeline",),
    default_steps=50,
    default_guidance=(1.0, 11.0),  # cfg_scale 0.5 -> 6.0, the pipeline's embedded default
    resolutions=RESOLUTIONS,
    layout=_layout,
    call_args=_call_args,
)
