"""Wan 2.1 and Wan 2.2 (A14B with transformer_2 / boundary_ratio, and TI2V-5B) on WanPipeline."""

from __future__ import annotations

import math
from typing import Any

from ..base import RenderRequest
from ..profiles import ModelProfile
from .common import Family, Layout, component_config, guidance_for

RESOLUTIONS_480_720 = {
    "std": {"16:9": (832, 480), "9:16": (480, 832), "1:1": (624, 624)},
    "pro": {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960)},
}
# TI2V-5B renders 1280x704: its latent patches are 32 pixels wide
RESOLUTIONS_TI2V = {
    "std": {"16:9": (832, 480), "9:16": (480, 832), "1:1": (640, 640)},
    "pro": {"16:9": (1280, 704), "9:16": (704, 1280), "1:1": (960, 960)},
}


def _layout(profile: ModelProfile, index: dict[str, Any], *, two_two: bool) -> Layout:
    weights = profile.weights
    assert weights is not None
    vae = component_config(weights, "vae")
    transformer = component_config(weights, "transformer") or component_config(
        weights, "transformer_2"
    )
    has_second = (index.get("transformer_2") or [None])[0] is not None
    ti2v = bool(index.get("expand_timesteps"))
    is_22 = has_second or ti2v
    if is_22 and not two_two:
        kind = "transformer_2 (A14B)" if has_second else "expand_timesteps (TI2V-5B)"
        raise profile.error(
            f'{weights} holds Wan 2.2 weights ({kind}); set family = "wan2.2" for this model'
        )
    if two_two and not is_22:
        raise profile.error(
            f"{weights} holds Wan 2.1 weights (no transformer_2, no expand_timesteps); "
            'set family = "wan" for this model'
        )
    if has_second and index.get("boundary_ratio") is None:
        raise profile.error(f"{weights}/model_index.json has transformer_2 but no boundary_ratio")
    if profile.guidance_2 is not None and not has_second:
        raise profile.error(
            f"guidance_2 needs the two-stage A14B weights (transformer_2); {weights} has none"
        )
    spatial = int(vae.get("scale_factor_spatial") or (16 if vae.get("z_dim") == 48 else 8))
    patch = transformer.get("patch_size") or [1, 2, 2]
    return Layout(
        frame_step=int(vae.get("scale_factor_temporal") or 4) * int(patch[0]),
        size_multiple=spatial * int(patch[1]),
        fps=24.0 if ti2v else 16.0,
        max_frames=121 if ti2v else 81,  # trained lengths: 5 s at the native rate
        resolutions=RESOLUTIONS_TI2V if ti2v else None,
    )


def _call_args(request: RenderRequest, guidance: float, profile: ModelProfile) -> dict[str, Any]:
    args: dict[str, Any] = {"guidance_scale": guidance}
    if profile.guidance_2 is not None:
        second = guidance_for(request.cfg_scale, *profile.guidance_2)
        args["guidance_scale_2"] = second
        if guidance <= 1.0 < second:
            # WanPipeline runs the unconditional pass only when guidance_scale > 1, for both
            # stages: the smallest scale above 1 keeps the high-noise stage unguided in effect
            # (uncond + (1 + 2e-16) * (cond - uncond)) and the low-noise stage's CFG alive
            args["guidance_scale"] = math.nextafter(1.0, 2.0)
    return args


WAN = Family(
    name="wan",
    pipeline="WanPipeline",
    class_names=("WanPipeline",),
    default_steps=50,
    default_guidance=(1.0, 9.0),  # cfg_scale 0.5 -> 5.0, the Wan 2.1 default
    resolutions=RESOLUTIONS_480_720,
    layout=lambda profile, index: _layout(profile, index, two_two=False),
    call_args=_call_args,
)

WAN_2_2 = Family(
    name="wan2.2",
    pipeline="WanPipeline",
    class_names=("WanPipeline",),
    default_steps=40,
    default_guidance=(1.0, 7.0),  # cfg_scale 0.5 -> 4.0, the A14B high-noise default
    resolutions=RESOLUTIONS_480_720,
    layout=lambda profile, index: _layout(profile, index, two_two=True),
    call_args=_call_args,
    denoisers=("transformer", "transformer_2"),
)
