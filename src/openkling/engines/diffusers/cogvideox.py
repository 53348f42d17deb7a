"""CogVideoX 1.0 (8k+1 frames at 8 fps, 720x480) and 1.5 (16k+1 at 16 fps) on CogVideoXPipeline."""

from __future__ import annotations

from typing import Any

from ..base import RenderRequest
from ..profiles import ModelProfile
from .common import Family, Layout, component_config

# CogVideoX 1.0 was trained at 720x480 only; other sizes work but look worse
RESOLUTIONS_1_0 = {
    "std": {"16:9": (720, 480), "9:16": (480, 720), "1:1": (480, 480)},
    "pro": {"16:9": (720, 480), "9:16": (480, 720), "1:1": (480, 480)},
}
RESOLUTIONS_1_5 = {
    "std": {"16:9": (1360, 768), "9:16": (768, 1360), "1:1": (768, 768)},
    "pro": {"16:9": (1360, 768), "9:16": (768, 1360), "1:1": (768, 768)},
}


def _layout(profile: ModelProfile, index: dict[str, Any]) -> Layout:
    assert profile.weights is not None
    vae = component_config(profile.weights, "vae")
    transformer = component_config(profile.weights, "transformer")
    spatial = 2 ** (len(vae.get("block_out_channels", (128, 256, 256, 512))) - 1)
    temporal = int(vae.get("temporal_compression_ratio", 4))
    v1_5 = transformer.get("patch_size_t") is not None
    fixed_size = fixed_frames = None
    resolutions = RESOLUTIONS_1_5 if v1_5 else RESOLUTIONS_1_0
    if transformer.get("use_learned_positional_embeddings"):
        # CogVideoX-5b-I2V: position embeddings learned at one size and length, nothing else
        fixed_size = (
            int(transformer.get("sample_width", 90)) * spatial,
            int(transformer.get("sample_height", 60)) * spatial,
        )
        fixed_frames = int(transformer.get("sample_frames", 49))
        resolutions = {
            mode: dict.fromkeys(ratios, fixed_size) for mode, ratios in resolutions.items()
        }
        for mode, ratios in profile.resolution.items():
            for ratio, size in ratios.items():
                if size != fixed_size:
                    raise profile.error(
                        f'resolution.{mode}."{ratio}" = [{size[0]}, {size[1]}]: '
                        f"{profile.weights} renders exactly {fixed_size[0]}x{fixed_size[1]} "
                        "(its position embeddings are learned at that size); every ratio is "
                        "served at that size, the image fitted into it"
                    )
    # the model cards' rules: 1.0 takes 8N+1 frames, N <= 6; 1.5 takes 16N+1, N <= 10
    return Layout(
        frame_step=temporal * (4 if v1_5 else 2),
        size_multiple=spatial * int(transformer.get("patch_size", 2)),
        fps=16.0 if v1_5 else 8.0,
        max_frames=fixed_frames or (161 if v1_5 else 49),
        resolutions=resolutions,
        fixed_size=fixed_size,
        fixed_frames=fixed_frames,
    )


def _call_args(request: RenderRequest, guidance: float, profile: ModelProfile) -> dict[str, Any]:
    return {"guidance_scale": guidance}


COGVIDEOX = Family(
    name="cogvideox",
    pipeline="CogVideoXPipeline",
    class_names=("CogVideoXPipeline",),
    default_steps=50,
    default_guidance=(1.0, 11.0),  # cfg_scale 0.5 -> 6.0, the CogVideoXPipeline default
    resolutions=RESOLUTIONS_1_0,
    layout=_layout,
    call_args=_call_args,
)
