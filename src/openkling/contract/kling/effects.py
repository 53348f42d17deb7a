"""Kling's video-effects request: a scene from the effects catalog over one or two pictures.

Dual-image scenes take exactly two pictures, stitched into one, the first on the left and the
second on the right, as Kling does; the scene then plays over the stitched picture.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from PIL import Image, ImageOps
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core.core_schema import ValidationInfo

from ...domain.catalog import Catalog
from ...domain.effects import EffectsCatalog, EffectScene, load_effects
from ...domain.request import (
    CameraConfig,
    CameraControl,
    EffectRender,
    GenerationRequest,
    Parsed,
)
from ...errors import InvalidParameter
from ...media.images import InputImage, to_rgb
from ...net.guard import NOTHING_ALLOWED, AllowList
from ...net.image_fetch import ImageLoader
from .. import fields
from ..fields import _bad, _type_name
from ..model import Reads, RequestModel, validate
from .neighbours import DoorParse
from .request import (
    CALLBACK_DOC,
    EXTERNAL_DOC,
    CallbackUrl,
    ExternalTaskId,
    KlingContext,
    context_of,
)

STITCH_HEIGHT = 1024  # the stitched picture's height at most
HALF_ASPECT = 0.75  # each picture is cropped to a 3:4 portrait half: the seam is the middle


@dataclass(frozen=True)
class EffectsContext(KlingContext):
    """Kling's context and the effect scenes this deployment offers."""

    effects: EffectsCatalog = field(default_factory=load_effects)


def _scene(value: Any, name: str, info: ValidationInfo) -> EffectScene:
    context = context_of(info)
    assert isinstance(context, EffectsContext)
    effects, catalog = context.effects, context.catalog
    scene_name = fields.text(value, name, max_len=100)
    offered = ", ".join(effects.names) or "none"
    if not scene_name:
        raise _bad(name, f"is required; offered scenes: {offered}")
    scene = effects.get(scene_name)
    if scene is None:
        raise _bad(name, f"'{scene_name}' is not offered; offered scenes: {offered}")
    entry = catalog.get(scene.model)
    if entry is None or not entry.image2video:
        raise _bad(
            name,
            f"'{scene_name}' renders on {scene.model}, which takes no image input on this "
            "deployment",
        )
    return scene


def _input(value: Any, name: str, info: ValidationInfo) -> list[str]:
    scene = info.data.get("effect_scene")
    if not isinstance(scene, EffectScene):
        return []  # the scene was refused: that is the error to report
    return _sources(value, scene)


class EffectInput(BaseModel):
    """The wire shape of ``input``: ``image`` for single-image scenes, ``images`` for dual."""

    model_config = ConfigDict(title="EffectInput")
    image: str | None = Field(None, description="single-image scenes: one picture")
    images: list[str] | None = Field(
        None, min_length=2, max_length=2, description="dual-image scenes: left, then right"
    )


class EffectsRequest(RequestModel):
    """The body of ``POST /v1/videos/effects``; ``GET /v1/effects`` lists the scenes. Fields
    Kling does not know are ignored; the pictures are read after every field is good."""

    wire_required = ("effect_scene", "input")

    effect_scene: Annotated[EffectScene, Reads(_scene, wire=str)] = Field(
        None, validate_default=True, description="e.g. zoom_out, day_to_night, hug_pro"
    )
    input: Annotated[list[str], Reads(_input, wire=EffectInput)] = Field(
        None, validate_default=True
    )
    callback_url: CallbackUrl = Field(None, description=CALLBACK_DOC)
    external_task_id: ExternalTaskId = Field(None, description=EXTERNAL_DOC)


def parse_effects(
    body: Any,
    effects: EffectsCatalog,
    catalog: Catalog,
    load: ImageLoader,
    *,
    url_allow: AllowList = NOTHING_ALLOWED,
) -> Parsed:
    """Validate an effects body; the pictures are read after every other field is good."""
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    model = validate(EffectsRequest, body, EffectsContext(catalog, url_allow, effects))
    scene, sources = model.effect_scene, model.input
    files = DoorParse()
    if scene.kind == "dual":
        left, right = (load(f"input.images[{i}]", src) for i, src in enumerate(sources))
        picture = files.add("effect_pair", stitch(left, right))
    else:
        picture = files.add("image", load("input.image", sources[0]))
    camera = None
    if scene.camera:
        camera = CameraControl(type="simple", config=CameraConfig(**scene.camera))
    request = GenerationRequest(
        model_name=scene.model,
        prompt=scene.prompt,
        duration=scene.duration,
        aspect_ratio=None,  # the picture's
        mode=scene.mode,
        camera_control=camera,
        callback_url=model.callback_url,
        external_task_id=model.external_task_id,
        image=picture,
        effect=EffectRender(
            scene=scene.name, look=scene.look, lora=scene.lora, dual=scene.kind == "dual"
        ),
        credits=scene.credits,
        wire={"effect_scene": scene.name},
    )
    return Parsed(request, files.files)


def _sources(value: object, scene: EffectScene) -> list[str]:
    """The picture sources ``input`` holds, as the scene's kind wants them."""
    if not isinstance(value, dict):
        what = '{"image": ...}' if scene.kind == "single" else '{"images": [left, right]}'
        raise _bad("input", f"is required: an object {what}, got {_type_name(value)}")
    if scene.kind == "single":
        if value.get("images") is not None:
            raise _bad(
                "input.images",
                f"'{scene.name}' is a single-image scene: send one picture as input.image",
            )
        image = value.get("image")
        if not isinstance(image, str) or not image.strip():
            raise _bad(
                "input.image",
                f"is required for '{scene.name}': an http(s) URL or raw base64 of a JPG or PNG",
            )
        return [image]
    if value.get("image") is not None:
        raise _bad(
            "input.image",
            f"'{scene.name}' is a dual-image scene: send two pictures as input.images",
        )
    images = value.get("images")
    if not isinstance(images, list) or len(images) != 2:
        got = len(images) if isinstance(images, list) else _type_name(images)
        raise _bad(
            "input.images",
            f"'{scene.name}' needs exactly 2 pictures (left, right), got {got}",
        )
    for i, image in enumerate(images):
        if not isinstance(image, str) or not image.strip():
            raise _bad(f"input.images[{i}]", "must be an http(s) URL or raw base64 of a JPG or PNG")
    return list(images)


def stitch(left: InputImage, right: InputImage) -> InputImage:
    """One picture of two, as a PNG: each cropped to a 3:4 portrait about its centre and
    scaled to one height, ``left`` on the left and ``right`` on the right, meeting mid-way."""
    height = min(max(left.height, right.height), STITCH_HEIGHT)
    width = round(height * HALF_ASPECT)
    halves = []
    for image in (left, right):
        pixels = Image.fromarray(to_rgb(image.data))
        fitted = ImageOps.fit(pixels, (width, height), Image.Resampling.LANCZOS)
        halves.append(np.asarray(fitted))
    joined = np.concatenate(halves, axis=1)
    out = io.BytesIO()
    Image.fromarray(joined).save(out, format="PNG")
    return InputImage(data=out.getvalue(), format="png", width=joined.shape[1], height=height)
