"""Reference pictures in a video (multi-image2video): Wan VACE, ``WanVACEPipeline``'s
``reference_images``, each picture given as the subject it should show."""

from __future__ import annotations

from typing import Any

from PIL import Image

from ..base import RenderRequest
from ..profiles import ModelProfile
from . import wan
from .common import Family


def _vace_args(request: RenderRequest, guidance: float, profile: ModelProfile) -> dict[str, Any]:
    if not request.references:
        raise ValueError("a reference-image pipeline needs request.references")
    args = wan._call_args(request, guidance, profile)
    args["reference_images"] = [Image.fromarray(picture) for picture in request.references]
    return args


WAN_VACE = Family(
    name="wan-vace",
    pipeline="WanVACEPipeline",
    class_names=("WanVACEPipeline",),
    default_steps=30,
    default_guidance=(1.0, 9.0),
    resolutions=wan.RESOLUTIONS_480_720,
    layout=lambda profile, index: wan._layout(profile, index, two_two=False),
    call_args=_vace_args,
)

# the profile's references.family -> its family
REFERENCE_FAMILIES: dict[str, Family] = {"wan": WAN_VACE}
