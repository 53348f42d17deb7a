"""The ``[images."<model>"]`` tables of a deployment profile: who makes each image model's pictures.

    [images."kling-v2-1"]
    engine = "diffusers"          # or "synthetic" (the default for every image model)
    family = "flux"               # flux | sd3
    weights = "/models/FLUX.1-schnell"
    steps = 4
    guidance = 0.0
    resolution = { "1k" = { "16:9" = [1280, 720] } }   # optional: exact ratio, multiples of 16
    prices = { text = 4, image = 8 }                   # credits per picture

A reference image goes through the family's image-to-image pipeline, made from the same
weights (no second download): ``img2img = false`` turns that off, and the model then takes no
reference image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain.image_catalog import exact_ratio
from ..domain.vocabulary import IMAGE_ASPECT_RATIOS, IMAGE_MODEL_NAMES, IMAGE_RESOLUTIONS
from .profile_fields import (
    DEVICES,
    DTYPES,
    OFFLOADS,
    ProfileError,
    _bool,
    _choice,
    _int,
    _no_unknown,
    _number,
    _path,
)

PICTURE_ENGINES = ("synthetic", "diffusers")
PICTURE_FAMILIES = ("flux", "sd3")
_SYNTHETIC_KEYS = {"engine", "prices"}
_DIFFUSERS_KEYS = _SYNTHETIC_KEYS | {
    "family",
    "weights",
    "resolution",
    "steps",
    "guidance",
    "img2img",
    "max_sequence_length",
    "device",
    "dtype",
    "cpu_offload",
    "vae_tiling",
    "pipeline_args",
}
# pipeline call arguments the engine fills in itself
_SET_BY_OPENKLING = {
    "prompt",
    "negative_prompt",
    "width",
    "height",
    "num_inference_steps",
    "guidance_scale",
    "generator",
    "output_type",
    "callback_on_step_end",
    "return_dict",
    "image",
    "strength",
    "num_images_per_prompt",
    "max_sequence_length",
}


@dataclass(frozen=True)
class PictureProfile:
    """One ``[images."<kling image model>"]`` table, checked, with defaults filled in."""

    model: str
    source: Path
    engine: str
    family: str | None = None
    weights: Path | None = None
    resolution: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    steps: int | None = None
    guidance: float | None = None
    img2img: bool = True
    max_sequence_length: int | None = None
    device: str = "auto"
    dtype: str = "auto"
    cpu_offload: str = "none"
    vae_tiling: bool = False
    pipeline_args: dict[str, Any] = field(default_factory=dict)
    prices: tuple[float | None, float | None] = (None, None)  # (text, image); None: catalog's

    @property
    def where(self) -> str:
        return f'{self.source}: [images."{self.model}"]'

    def error(self, message: str) -> ProfileError:
        return ProfileError(f"{self.where}: {message}")


def load_picture_profiles(value: Any, source: Path) -> dict[str, PictureProfile]:
    """The profile file's ``images`` table: one PictureProfile per image model named."""
    if not isinstance(value, dict):
        raise ProfileError(f'{source}: "images" must be a table of [images."<model name>"] tables')
    out = {}
    for name, table in value.items():
        where = f'{source}: [images."{name}"]'
        if name not in IMAGE_MODEL_NAMES:
            raise ProfileError(
                f"{where}: unknown Kling image model name; expected one of "
                + ", ".join(IMAGE_MODEL_NAMES)
            )
        if not isinstance(table, dict):
            raise ProfileError(f"{where} must be a table")
        out[name] = _picture(name, table, source, where)
    return out


def _picture(name: str, t: dict[str, Any], source: Path, where: str) -> PictureProfile:
    engine = _choice(t, "engine", PICTURE_ENGINES, where, default=None)
    if engine is None:
        raise ProfileError(f'{where}: "engine" is required: one of {", ".join(PICTURE_ENGINES)}')
    _no_unknown(t, _SYNTHETIC_KEYS if engine == "synthetic" else _DIFFUSERS_KEYS, where)
    common: dict[str, Any] = {"model": name, "source": source, "engine": engine}
    if "prices" in t:
        common["prices"] = _prices(t["prices"], where)
    if engine == "synthetic":
        return PictureProfile(**common)
    family = _choice(t, "family", PICTURE_FAMILIES, where, default=None)
    if family is None:
        raise ProfileError(f'{where}: "family" is required: one of {", ".join(PICTURE_FAMILIES)}')
    if not isinstance(t.get("weights"), str) or not t["weights"]:
        raise ProfileError(
            f'{where}: "weights" is required: the directory of a diffusers text-to-image '
            "pipeline (FluxPipeline, StableDiffusion3Pipeline)"
        )
    args = t.get("pipeline_args", {})
    if not isinstance(args, dict):
        raise ProfileError(f'{where}: "pipeline_args" must be a table of keyword arguments')
    taken = sorted(set(args) & _SET_BY_OPENKLING)
    if taken:
        raise ProfileError(f"{where}: pipeline_args {', '.join(taken)} are set by openkling")
    cpu_offload = _choice(t, "cpu_offload", OFFLOADS, where, "none")
    device = _choice(t, "device", DEVICES, where, "auto")
    if device == "cpu" and cpu_offload != "none":
        raise ProfileError(
            f'{where}: cpu_offload = "{cpu_offload}" needs a GPU, but device = "cpu"'
        )
    guidance = _number(t, "guidance", where)
    if guidance is not None and guidance < 0:
        raise ProfileError(f"{where}: guidance must be 0 or more, got {guidance}")
    return PictureProfile(
        **common,
        family=family,
        weights=_path(t["weights"], source),
        resolution=_resolution(t.get("resolution", {}), where),
        steps=_int(t, "steps", where, minimum=1),
        guidance=guidance,
        img2img=_bool(t, "img2img", where) if "img2img" in t else True,
        max_sequence_length=_int(t, "max_sequence_length", where, minimum=1),
        device=device,
        dtype=_choice(t, "dtype", DTYPES, where, "auto"),
        cpu_offload=cpu_offload,
        vae_tiling=_bool(t, "vae_tiling", where),
        pipeline_args=dict(args),
    )


def _resolution(value: Any, where: str) -> dict[str, dict[str, tuple[int, int]]]:
    if not isinstance(value, dict):
        raise ProfileError(
            f'{where}: "resolution" must be a table like "1k" = {{"16:9" = [1280, 720]}}'
        )
    _no_unknown(value, set(IMAGE_RESOLUTIONS), f"{where}.resolution")
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for resolution, ratios in value.items():
        if not isinstance(ratios, dict):
            raise ProfileError(
                f'{where}: resolution."{resolution}" must be a table like {{"16:9" = [1280, 720]}}'
            )
        _no_unknown(ratios, set(IMAGE_ASPECT_RATIOS), f'{where}.resolution."{resolution}"')
        out[resolution] = {}
        for ratio, size in ratios.items():
            ok = isinstance(size, list) and len(size) == 2
            if not ok or not all(isinstance(v, int) and not isinstance(v, bool) for v in size):
                raise ProfileError(
                    f'{where}: resolution."{resolution}"."{ratio}" must be [width, height] in '
                    f"pixels, got {size!r}"
                )
            width, height = size
            if not exact_ratio(width, height, ratio):
                raise ProfileError(
                    f'{where}: resolution."{resolution}"."{ratio}" = [{width}, {height}] is not '
                    f"exactly {ratio}: pictures are delivered at the asked aspect ratio"
                )
            out[resolution][ratio] = (width, height)
    return out


def _prices(value: Any, where: str) -> tuple[float | None, float | None]:
    if not isinstance(value, dict):
        raise ProfileError(f"{where}: prices must be a table like {{text = 4, image = 8}}")
    _no_unknown(value, {"text", "image"}, f"{where}.prices")
    out = []
    for key in ("text", "image"):
        credits = value.get(key)
        bad = isinstance(credits, bool) or not isinstance(credits, int | float) or credits < 0
        if credits is not None and bad:
            raise ProfileError(
                f"{where}: prices.{key} = {credits!r}; credits per picture, 0 or more"
            )
        out.append(None if credits is None else float(credits))
    return out[0], out[1]
