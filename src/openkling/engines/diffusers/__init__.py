"""Real video generation with Hugging Face diffusers: one module per model family."""

from __future__ import annotations

from ..base import Capabilities
from ..profiles import ModelProfile
from .cogvideox import COGVIDEOX
from .common import Family, Layout, LoadSpec
from .engine import DiffusersEngine, PipelinePool
from .hunyuan import HUNYUAN
from .image import IMAGE_FAMILIES
from .ltx import LTX
from .pictures import PICTURE_FAMILIES, DiffusersPictureEngine
from .references import REFERENCE_FAMILIES
from .wan import WAN, WAN_2_2

FAMILIES: dict[str, Family] = {f.name: f for f in (WAN, WAN_2_2, LTX, COGVIDEOX, HUNYUAN)}


def build_engine(profile: ModelProfile, pool: PipelinePool) -> DiffusersEngine:
    """The engine for a ``engine = "diffusers"`` profile; raises ProfileError on bad weights."""
    assert profile.family is not None
    return DiffusersEngine.from_profile(profile, FAMILIES[profile.family], pool)


def build_image_engine(profile: ModelProfile, pool: PipelinePool) -> DiffusersEngine:
    """The image-to-video engine of a profile with an ``[i2v]`` table; ProfileError on bad
    weights."""
    assert profile.i2v is not None
    images = profile.for_images()
    engine = DiffusersEngine.from_profile(images, IMAGE_FAMILIES[profile.i2v.family], pool)
    engine.capabilities = Capabilities(
        image_input=True, end_frame=profile.i2v.end_frame, camera_phrase=True
    )
    return engine


def build_reference_engine(profile: ModelProfile, pool: PipelinePool) -> DiffusersEngine:
    """The reference-image engine of a profile with a ``[references]`` table (Wan VACE)."""
    assert profile.references is not None
    refs = profile.for_references()
    engine = DiffusersEngine.from_profile(refs, REFERENCE_FAMILIES[refs.family or "wan"], pool)
    engine.capabilities = Capabilities(references=True, camera_phrase=True)
    return engine


__all__ = [
    "FAMILIES",
    "PICTURE_FAMILIES",
    "DiffusersEngine",
    "DiffusersPictureEngine",
    "Family",
    "Layout",
    "LoadSpec",
    "PipelinePool",
    "build_engine",
    "build_image_engine",
    "build_reference_engine",
]
