"""Real video generation with Hugging Face diffusers: one module per model family."""

from __future__ import annotations

from ..profiles import ModelProfile
from .cogvideox import COGVIDEOX
from .common import Family, Layout, LoadSpec
from .engine import DiffusersEngine, PipelinePool
from .hunyuan import HUNYUAN
from .ltx import LTX
from .wan import WAN, WAN_2_2

FAMILIES: dict[str, Family] = {f.name: f for f in (WAN, WAN_2_2, LTX, COGVIDEOX, HUNYUAN)}


def build_engine(profile: ModelProfile, pool: PipelinePool) -> DiffusersEngine:
    """The engine for a ``engine = "diffusers"`` profile; raises ProfileError on bad weights."""
    assert profile.family is not None
    return DiffusersEngine.from_profile(profile, FAMILIES[profile.family], pool)


__all__ = [
    "FAMILIES",
    "DiffusersEngine",
    "Family",
    "Layout",
    "LoadSpec",
    "PipelinePool",
    "build_engine",
]
