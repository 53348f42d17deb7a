"""Kling's video-effects request: a scene from the effects catalog over one or two pictures.

Dual-image scenes take exactly two pictures, stitched into one, the first on the left and the
second on the right, as Kling does; the scene then plays over the stitched picture.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from ...domain.catalog import Catalog
from ...domain.effects import EffectsCatalog, EffectScene
from ...domain.request import CameraConfig, CameraControl, EffectRender, GenerationRequest
from ...errors import InvalidParameter
from ...media.images import InputImage, to_rgb
from ...net.guard import NOTHING_ALLOWED, AllowList
from ..fields import MAX_EXTERNAL_ID, _bad, _string, _type_name, _url
from .neighbours import DoorParse, ImageLoader

STITCH_HEIGHT = 1024  # the stitched picture's height at most
HALF_ASPECT = 0.75  # each picture is cropped to a 3:4 portrait half: the seam is the middle


def parse_effects(
    body: Any,
    effects: EffectsCatalog,
    catalog: Catalog,
    load: ImageLoader,
    *,
    url_allow: AllowList = NOTHING_ALLOWED,
) -> DoorParse:
    """Validate an effects body; the pictures are read after every other field is good."""
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    scene = _scene(body, effects, catalog)
    sources = _input(body.get("input"), scene)
    callback_url = _url(_string(body, "callback_url"), allow=url_allow)
    external = _string(body, "external_task_id", max_len=MAX_EXTERNAL_ID) or None

    parsed = DoorParse(request=GenerationRequest())
    if scene.kind == "dual":
        left, right = (load(f"input.images[{i}]", src) for i, src in enumerate(sources))
        picture = parsed.add("effect_pair", stitch(left, right))
    else:
        picture = parsed.add("image", load("input.image", sources[0]))
    camera = None
    if scene.camera:
        camera = CameraControl(type="simple", config=CameraConfig(**scene.camera))
    parsed.request = GenerationRequest(
        model_name=scene.model,
        prompt=scene.prompt,
        duration=scene.duration,
        aspect_ratio=None,  # the picture's
        mode=scene.mode,  # type: ignore[arg-type]
        camera_control=camera,
        callback_url=callback_url,
        external_task_id=external,
        image=picture,
        effect=EffectRender(
            scene=scene.name, look=scene.look, lora=scene.lora, dual=scene.kind == "dual"
        ),
        credits=scene.credits,
        wire={"effect_scene": scene.name},
    )
    return parsed


def _scene(body: dict, effects: EffectsCatalog, catalog: Catalog) -> EffectScene:
    name = _string(body, "effect_scene", max_len=100)
    offered = ", ".join(effects.names) or "none"
    if not name:
        raise _bad("effect_scene", f"is required; offered scenes: {offered}")
    scene = effects.get(name)
    if scene is None:
        raise _bad("effect_scene", f"'{name}' is not offered; offered scenes: {offered}")
    entry = catalog.get(scene.model)
    if entry is None or not entry.image2video:
        raise _bad(
            "effect_scene",
            f"'{name}' renders on {scene.model}, which takes no image input on this deployment",
        )
    return scene


def _input(value: object, scene: EffectScene) -> list[str]:
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
