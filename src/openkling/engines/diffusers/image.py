"""Image-to-video families: Wan 2.1 I2V and first-last-frame, Wan 2.2 I2V, LTX, CogVideoX I2V."""

from __future__ import annotations

from typing import Any

from PIL import Image

from ..base import RenderRequest
from ..profiles import ModelProfile
from . import cogvideox, ltx, wan
from .common import Family, Layout, component_config


def _picture(array: Any) -> Image.Image:
    return Image.fromarray(array)


def _first(request: RenderRequest) -> Image.Image:
    # a request with only image_tail reaches here as image: the engine renders from it and
    # plays the clip backwards, so that it ends on image_tail
    if request.image is None:
        raise ValueError("an image-to-video pipeline needs request.image")
    return _picture(request.image)


def _wan_layout(profile: ModelProfile, index: dict[str, Any], *, two_two: bool) -> Layout:
    layout = wan._layout(profile, index, two_two=two_two)
    assert profile.weights is not None and profile.i2v is not None
    if index.get("_class_name") == "WanPipeline" and not index.get("expand_timesteps"):
        raise profile.error(
            f"{profile.weights} holds text-to-video Wan weights; the [i2v] table needs "
            "image-to-video ones (a WanImageToVideoPipeline, or Wan 2.2 TI2V-5B)"
        )
    transformer = component_config(profile.weights, "transformer") or component_config(
        profile.weights, "transformer_2"
    )
    first_last = transformer.get("pos_embed_seq_len") is not None  # Wan 2.1 FLF2V
    can_end = first_last or (two_two and not index.get("expand_timesteps"))
    if profile.i2v.end_frame and not can_end:
        raise profile.error(
            f"i2v.end_frame = true, but {profile.weights} takes a first frame only "
            "(a Wan 2.1 FLF2V or Wan 2.2 A14B I2V pipeline takes a last frame too)"
        )
    if first_last and not profile.i2v.end_frame:
        raise profile.error(
            f"{profile.weights} is a first-last-frame (FLF2V) pipeline: set i2v.end_frame = true"
        )
    return layout


def _wan_args(request: RenderRequest, guidance: float, profile: ModelProfile) -> dict[str, Any]:
    args = wan._call_args(request, guidance, profile)
    args["image"] = _first(request)
    if profile.i2v is not None and profile.i2v.end_frame:
        # first-last-frame weights always take a last frame: without image_tail the clip
        # returns to its first frame
        tail = request.image_tail
        args["last_image"] = _picture(tail) if tail is not None else args["image"]
    return args


def _ltx_args(request: RenderRequest, guidance: float, profile: ModelProfile) -> dict[str, Any]:
    return {**ltx._call_args(request, guidance, profile), "image": _first(request)}


def _cog_args(request: RenderRequest, guidance: float, profile: ModelProfile) -> dict[str, Any]:
    return {**cogvideox._call_args(request, guidance, profile), "image": _first(request)}


WAN_I2V = Family(
    name="wan-i2v",
    pipeline="WanImageToVideoPipeline",
    class_names=("WanImageToVideoPipeline",),
    default_steps=40,
    default_guidance=(1.0, 9.0),
    resolutions=wan.RESOLUTIONS_480_720,
    layout=lambda profile, index: _wan_layout(profile, index, two_two=False),
    call_args=_wan_args,
)
WAN_2_2_I2V = Family(
    name="wan2.2-i2v",
    pipeline="WanImageToVideoPipeline",
    class_names=("WanImageToVideoPipeline", "WanPipeline"),  # TI2V-5B is saved as WanPipeline
    default_steps=40,
    default_guidance=(1.0, 7.0),
    resolutions=wan.RESOLUTIONS_480_720,
    layout=lambda profile, index: _wan_layout(profile, index, two_two=True),
    call_args=_wan_args,
    denoisers=("transformer", "transformer_2"),
)


def _ltx_layout(profile: ModelProfile, index: dict[str, Any]) -> Layout:
    if index.get("_class_name") == "LTXConditionPipeline":
        raise profile.error(
            f"{profile.weights} is an LTX-Video 0.9.5+ pipeline (LTXConditionPipeline, 13B for "
            "0.9.7/0.9.8): its image conditioning is not served by the ltx [i2v] family; use "
            "LTX-Video 0.9.0/0.9.1 weights (Lightricks/LTX-Video, 2B) for image-to-video"
        )
    return ltx._layout(profile, index)


LTX_I2V = Family(
    name="ltx-i2v",
    pipeline="LTXImageToVideoPipeline",
    # the same components; LTXConditionPipeline is named only to refuse it clearly
    class_names=("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"),
    default_steps=50,
    default_guidance=(1.0, 5.0),
    resolutions=ltx.RESOLUTIONS,
    layout=_ltx_layout,
    call_args=_ltx_args,
)
COGVIDEOX_I2V = Family(
    name="cogvideox-i2v",
    pipeline="CogVideoXImageToVideoPipeline",
    class_names=("CogVideoXImageToVideoPipeline",),
    default_steps=50,
    default_guidance=(1.0, 11.0),
    resolutions=cogvideox.RESOLUTIONS_1_0,
    layout=cogvideox._layout,
    call_args=_cog_args,
)

# the profile's i2v.family -> its image-to-video family
IMAGE_FAMILIES: dict[str, Family] = {
    "wan": WAN_I2V,
    "wan2.2": WAN_2_2_I2V,
    "ltx": LTX_I2V,
    "cogvideox": COGVIDEOX_I2V,
}
