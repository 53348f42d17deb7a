"""Which engine serves which Kling model: the deployment profile, or synthetic for all."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..catalog import Catalog, default_catalog
from ..config import Settings
from .base import AudioEngine, VideoEngine

log = logging.getLogger(__name__)


@dataclass
class EngineRegistry:
    catalog: Catalog
    videos: dict[str, VideoEngine] = field(default_factory=dict)
    audios: dict[str, AudioEngine] = field(default_factory=dict)

    def video(self, model_name: str) -> VideoEngine:
        return self.videos[model_name]

    def audio(self, model_name: str) -> AudioEngine | None:
        return self.audios.get(model_name)


def build_registry(settings: Settings) -> EngineRegistry:
    """Engines for every catalog model. Without a profile file, the synthetic engine serves all."""
    from .procedural_audio import ProceduralAudio
    from .synthetic import SyntheticEngine

    catalog = default_catalog()
    synthetic = SyntheticEngine(
        fps=settings.fps,
        std_short_side=settings.std_short_side,
        pro_short_side=settings.pro_short_side,
    )
    audio = ProceduralAudio()
    registry = EngineRegistry(catalog=catalog)
    for name, entry in catalog.models.items():
        registry.videos[name] = synthetic
        if entry.audio:
            registry.audios[name] = audio
    log.info("engines: synthetic engine serves every model (no deployment profile configured)")
    return registry


def build_catalog(settings: Settings) -> Catalog:
    """The catalog alone (model names, audio, prices), for processes that run no engine."""
    return default_catalog()
