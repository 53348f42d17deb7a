"""How long a clip each diffusers family renders in one pass, known without loading weights:
the API narrows a model's durations with it when its profile refuses long videos."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .profiles import ModelProfile

# family -> (fps, frames = step * k + 1, trained length), the defaults of each family's weights
_TIMING: dict[str, tuple[float, int, int]] = {
    "wan": (16.0, 4, 81),
    "wan2.2": (16.0, 4, 81),
    "ltx": (24.0, 8, 257),
    "cogvideox": (8.0, 8, 49),
    "hunyuan": (24.0, 4, 129),
}


def _config(weights: Path | None, name: str) -> dict:
    try:
        data = json.loads((weights / name).read_text()) if weights else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def timing(profile: ModelProfile) -> tuple[float, int, int]:
    """(fps, frame step, one-pass frames) of a diffusers profile's text pipeline, else its
    image pipeline; read from the weights' configs when this host has them."""
    family = profile.family or "wan"
    weights = profile.weights
    if weights is None and profile.i2v is not None:
        family, weights = profile.i2v.family, profile.i2v.weights
    fps, step, longest = _TIMING.get(family, _TIMING["wan"])
    if family == "wan2.2" and _config(weights, "model_index.json").get("expand_timesteps"):
        fps, longest = 24.0, 121  # TI2V-5B
    if family == "cogvideox":
        transformer = _config(weights, "transformer/config.json")
        if transformer.get("patch_size_t") is not None:
            fps, step, longest = 16.0, 16, 161  # CogVideoX 1.5
    max_frames = profile.max_frames or (profile.i2v.max_frames if profile.i2v else None)
    return profile.fps or fps, step, max_frames or longest


def fits_one_pass(profile: ModelProfile, seconds: float) -> bool:
    fps, step, longest = timing(profile)
    frames = math.ceil((max(1, math.ceil(seconds * fps - 1e-6)) - 1) / step) * step + 1
    return frames <= longest
