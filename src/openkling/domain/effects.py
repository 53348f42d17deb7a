"""The video-effects catalog: the scenes /v1/videos/effects offers, read from TOML data.

The package's ``effects.toml`` holds the default scenes under Kling's names; a deployment's
own file (``OPENKLING_EFFECTS_FILE``) adds scenes or replaces them by name. Scenes are data:
a kind, a prompt, a synthetic ``look``, an optional camera path and effect LoRA, and a price.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .vocabulary import CAMERA_AXES, MODES

KINDS = ("single", "dual")
# how the synthetic engine realises a scene (engines/synthetic_effects.py draws each)
LOOKS = ("drift", "still", "night", "orbit", "meet", "heart")
DEFAULT_FILE = Path(__file__).with_name("effects.toml")
_SCENE_KEYS = {"kind", "prompt", "look", "camera", "lora", "duration", "mode", "credits", "model"}


class EffectsError(ValueError):
    """An effects file that cannot work: raised at startup, naming the file, scene and key."""


@dataclass(frozen=True)
class EffectScene:
    name: str
    kind: str  # "single" | "dual"
    prompt: str
    look: str = "drift"
    camera: dict[str, float] = field(default_factory=dict)  # simple-camera axes, non-zero
    lora: str | None = None  # a name in a diffusers profile's `loras` table
    duration: int = 5
    mode: str = "std"
    credits: float = 10.0
    model: str = "kling-v1-6"

    @property
    def images(self) -> int:
        return 2 if self.kind == "dual" else 1

    def public(self) -> dict[str, Any]:
        """What ``GET /v1/videos/effects/scenes`` and the studio show of a scene."""
        return {
            "effect_scene": self.name,
            "kind": self.kind,
            "images": self.images,
            "prompt": self.prompt,
            "duration": str(self.duration),
            "mode": self.mode,
            "credits": self.credits,
            "camera": dict(self.camera),
            "lora": self.lora,
        }


@dataclass(frozen=True)
class EffectsCatalog:
    scenes: dict[str, EffectScene]

    def get(self, name: str) -> EffectScene | None:
        return self.scenes.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.scenes)


def _scene(name: str, raw: Any, model: str, where: str) -> EffectScene:
    def bad(message: str) -> EffectsError:
        return EffectsError(f"{where}: scene '{name}': {message}")

    if not isinstance(raw, dict):
        raise bad("must be a table")
    unknown = set(raw) - _SCENE_KEYS
    if unknown:
        raise bad(f"unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(_SCENE_KEYS)}")
    kind = raw.get("kind", "single")
    if kind not in KINDS:
        raise bad(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad("prompt must be a non-empty string")
    look = raw.get("look", "meet" if kind == "dual" else "drift")
    if look not in LOOKS:
        raise bad(f"look must be one of {', '.join(LOOKS)}, got {look!r}")
    camera = raw.get("camera", {})
    if not isinstance(camera, dict) or set(camera) - set(CAMERA_AXES):
        raise bad(f"camera must be a table of axes ({', '.join(CAMERA_AXES)})")
    for axis, value in camera.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > 10:
            raise bad(f"camera.{axis} must be a number in [-10, 10], got {value!r}")
    duration, mode, credits = raw.get("duration", 5), raw.get("mode", "std"), raw.get("credits")
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 15:
        raise bad(f"duration must be whole seconds from 1 to 15, got {duration!r}")
    if mode not in MODES:
        raise bad(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(credits, bool) or not isinstance(credits, int | float) or credits < 0:
        raise bad(f"credits must be a number of credits (0 or more), got {credits!r}")
    lora = raw.get("lora")
    if lora is not None and (not isinstance(lora, str) or not lora):
        raise bad("lora must be the name of a LoRA in a profile's `loras` table")
    return EffectScene(
        name=name,
        kind=kind,
        prompt=prompt.strip(),
        look=look,
        camera={axis: float(v) for axis, v in camera.items() if v},
        lora=lora,
        duration=duration,
        mode=mode,
        credits=float(credits),
        model=str(raw.get("model", model)),
    )


def _read(path: Path, scenes: dict[str, EffectScene], model_names: tuple[str, ...]) -> None:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EffectsError(f"{path}: cannot read the effects file: {exc}") from None
    unknown = set(data) - {"model", "scenes"}
    if unknown:
        raise EffectsError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    model = data.get("model", "kling-v1-6")
    if model not in model_names:
        raise EffectsError(f"{path}: model '{model}' is not one of {', '.join(model_names)}")
    for name, raw in (data.get("scenes") or {}).items():
        scene = _scene(name, raw, model, str(path))
        if scene.model not in model_names:
            raise EffectsError(f"{path}: scene '{name}': model '{scene.model}' is unknown")
        scenes[name] = scene


@lru_cache(maxsize=8)
def load_effects(extra: Path | None = None) -> EffectsCatalog:
    """The package's scenes, then ``extra``'s (a deployment's file) added or replacing."""
    from .vocabulary import MODEL_NAMES

    scenes: dict[str, EffectScene] = {}
    _read(DEFAULT_FILE, scenes, MODEL_NAMES)
    if extra is not None:
        _read(Path(extra), scenes, MODEL_NAMES)
    return EffectsCatalog(scenes)
