"""Which engine serves which Kling model: the deployment profile, or synthetic for all."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..config import Settings
from ..domain.catalog import Catalog, default_catalog
from ..errors import EngineError
from .base import AudioEngine, PictureEngine, VideoEngine
from .lengths import fits_one_pass
from .profiles import ModelProfile, Profiles, load_profiles

if TYPE_CHECKING:  # diffusers and torch load only when a profile needs them
    from .diffusers import PipelinePool

log = logging.getLogger(__name__)


@dataclass
class EngineRegistry:
    catalog: Catalog
    videos: dict[str, VideoEngine] = field(default_factory=dict)
    audios: dict[str, AudioEngine] = field(default_factory=dict)
    profiles: Profiles | None = None
    images: dict[str, VideoEngine] = field(default_factory=dict)  # own image-to-video engines
    refs: dict[str, VideoEngine] = field(default_factory=dict)  # own reference-image engines
    # the engines of /v1/images/generations, by image model name
    pictures: dict[str, PictureEngine] = field(default_factory=dict)

    def video(self, model_name: str, *, image: bool = False) -> VideoEngine:
        """The engine for a model; ``image``: for a request with an image input, which a model
        may serve with its own image-to-video engine."""
        engine = self.images.get(model_name) if image else None
        engine = engine or self.videos.get(model_name)
        if engine is None:
            raise EngineError(f"model {model_name} is not served by this worker")
        if image and not engine.capabilities.image_input:
            raise EngineError(f"model {model_name} takes no image input on this worker")
        return engine

    def references(self, model_name: str) -> VideoEngine:
        """The engine that puts a model's reference pictures into a video."""
        engine = self.refs.get(model_name) or self.videos.get(model_name)
        if engine is None:
            raise EngineError(f"model {model_name} is not served by this worker")
        if not engine.capabilities.references:
            raise EngineError(f"model {model_name} takes no reference images on this worker")
        return engine

    def picture(self, model_name: str) -> PictureEngine:
        """The engine that makes an image model's pictures."""
        engine = self.pictures.get(model_name)
        if engine is None:
            raise EngineError(f"image model {model_name} is not served by this worker")
        return engine

    def audio(self, model_name: str) -> AudioEngine | None:
        return self.audios.get(model_name)

    def warm_up(self, model_names: list[str] | None = None) -> None:
        """Load the weights of these models (default: all) now instead of on their first task.

        For worker processes: the API server builds the registry too and should not load weights.
        """
        names = model_names if model_names is not None else list(self.catalog.names)
        engines: list[object] = [self.videos.get(n) for n in names]
        engines += [self.images.get(n) for n in names]
        engines += [self.refs.get(n) for n in names]
        engines += [self.pictures.get(n) for n in names]
        for engine in engines + [self.audios.get(n) for n in names]:
            preload = getattr(engine, "preload", None)
            if preload is not None:
                preload()


def build_catalog(settings: Settings) -> Catalog:
    """The catalog alone (audio capability, prices), for processes that run no engine.

    The profile file is parsed and checked, but weight directories are not looked at.
    """
    profiles = load_profiles(settings.profiles_file) if settings.profiles_file else None
    return _catalog(profiles)


def build_registry(settings: Settings, models: list[str] | None = None) -> EngineRegistry:
    """Engines for every catalog model (or only ``models``, on a worker that serves those).
    Without a profile file, the synthetic engine serves all.

    With one, its weights and sizes are checked here, so a broken profile fails at startup
    (``ProfileError``); the weights themselves load on first use or on ``warm_up()``.
    """
    from .procedural_audio import ProceduralAudio
    from .synthetic import SyntheticEngine

    synthetic = SyntheticEngine(
        fps=settings.fps,
        std_short_side=settings.std_short_side,
        pro_short_side=settings.pro_short_side,
    )
    procedural = ProceduralAudio()
    profiles = load_profiles(settings.profiles_file) if settings.profiles_file else None
    registry = EngineRegistry(catalog=_catalog(profiles), profiles=profiles)
    if profiles is None:
        log.info("engines: synthetic engine serves every model (no deployment profile configured)")
    pools = _Pools(profiles.max_loaded_pipelines if profiles else 1)
    for name, entry in registry.catalog.models.items():
        if models is not None and name not in models:
            continue  # another host's model: its weights need not be here
        profile = profiles.models.get(name) if profiles else None
        registry.videos[name] = synthetic
        if profile is not None and profile.engine == "diffusers":
            from .diffusers import build_engine, build_image_engine, build_reference_engine

            text = build_engine(profile, pools.video()) if profile.weights is not None else None
            image = build_image_engine(profile, pools.video()) if profile.i2v else None
            if image is not None:
                # a long video continues from its last frame through the image pipeline
                image.continuation = image
                registry.images[name] = image
            if text is not None:
                text.continuation = image
                registry.videos[name] = text
            if profile.references is not None:
                registry.refs[name] = build_reference_engine(profile, pools.video())
        if entry.audio:
            registry.audios[name] = _audio_engine(profile, procedural, pools)
        if profile is not None:
            audio = registry.audios.get(name)
            own_image = registry.images.get(name)
            log.info(
                "engines: %s -> %s%s%s",
                name,
                registry.videos[name].name,
                f" + {own_image.name} for images" if own_image is not None else "",
                f" + {audio.name} audio" if audio is not None else "",
            )
    _add_pictures(registry, profiles, pools, models)
    return registry


def _add_pictures(
    registry: EngineRegistry, profiles: Profiles | None, pools: _Pools, models: list[str] | None
) -> None:
    """The picture engine of each image model: its profile's diffusers pipeline, else the
    synthetic one."""
    from .synthetic_picture import SyntheticPictureEngine

    synthetic = SyntheticPictureEngine()
    for name in registry.catalog.images:
        if models is not None and name not in models:
            continue
        profile = profiles.images.get(name) if profiles else None
        if profile is not None and profile.engine == "diffusers":
            from .diffusers import DiffusersPictureEngine

            engine: PictureEngine = DiffusersPictureEngine.from_profile(profile, pools.video())
            log.info("engines: image model %s -> %s", name, engine.name)
        else:
            engine = synthetic
        registry.pictures[name] = engine


def _catalog(profiles: Profiles | None) -> Catalog:
    catalog = default_catalog()
    if profiles is None:
        return catalog
    images = dict(catalog.images)
    for name, picture in profiles.images.items():
        text, image = picture.prices
        offered = images[name]
        images[name] = replace(
            offered,
            text_price=offered.text_price if text is None else text,
            reference_price=offered.reference_price if image is None else image,
            reference=picture.engine == "synthetic" or picture.img2img,
        )
    entries = {}
    for name, entry in catalog.models.items():
        profile = profiles.models.get(name)
        if profile is None:
            entries[name] = entry
            continue
        audio = (profile.audio is not None) if profile.audio_set else entry.audio
        prices = {**entry.prices, **(profile.prices or {})}
        # the profile narrows audio and prices, and a diffusers model to what its pipelines
        # can honour; every other capability stays the catalog's
        entry = replace(entry, audio=audio, prices=prices)
        if profile.engine == "diffusers":
            i2v = profile.i2v
            durations = entry.durations
            if profile.long_video == "refuse":
                durations = tuple(d for d in durations if fits_one_pass(profile, d))
            entry = replace(
                entry,
                text2video=entry.text2video and profile.weights is not None,
                image2video=entry.image2video and i2v is not None,
                end_frame=entry.end_frame and i2v is not None and i2v.end_frame,
                masks=False,
                durations=durations or entry.durations[:1],
                references=profile.references is not None,  # a Wan VACE table
            )
            if entry.api == "2026":  # the same narrowing for the 2026 endpoints
                needs = {"image-to-video": i2v is not None}
                endpoints = tuple(
                    e for e in entry.endpoints if needs.get(e, profile.weights is not None)
                )
                entry = replace(entry, endpoints=endpoints)
        entries[name] = entry
    return Catalog(entries, images)


class _Pools:
    """One pipeline pool for video and one for audio, made only when a profile needs them."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._video: PipelinePool | None = None
        self._audio: PipelinePool | None = None

    def video(self) -> PipelinePool:
        from .diffusers import PipelinePool

        self._video = self._video or PipelinePool(self.capacity)
        return self._video

    def audio(self) -> PipelinePool:
        from .diffusers import PipelinePool

        self._audio = self._audio or PipelinePool(1)
        return self._audio


def _audio_engine(
    profile: ModelProfile | None, procedural: AudioEngine, pools: _Pools
) -> AudioEngine:
    if profile is None or profile.audio is None or profile.audio.engine == "procedural":
        return procedural
    from .stable_audio import StableAudioEngine

    return StableAudioEngine.from_profile(profile, pools.audio())
