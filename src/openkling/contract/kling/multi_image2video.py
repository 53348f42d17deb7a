"""Kling's multi-image2video request: one to four reference pictures and a prompt."""

from __future__ import annotations

from typing import Any

from ...domain.catalog import Catalog, ModelEntry
from ...domain.request import GenerationRequest
from ...domain.vocabulary import ASPECT_RATIOS
from ...errors import InvalidParameter
from ...net.guard import NOTHING_ALLOWED, AllowList
from ..fields import (
    MAX_EXTERNAL_ID,
    MAX_PROMPT,
    _bad,
    _cfg_scale,
    _choice,
    _duration,
    _mode,
    _seed,
    _string,
    _type_name,
    _url,
)
from .neighbours import DoorParse, ImageLoader

DEFAULT_MODEL = "kling-v1-6"  # Kling's default (and, on Kling, only) model for this door
MAX_IMAGES = 4


def parse_multi_image2video(
    body: Any, catalog: Catalog, load: ImageLoader, *, url_allow: AllowList = NOTHING_ALLOWED
) -> DoorParse:
    """Validate a multi-image2video body; images are read only after every other field."""
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    entry = _model(body, catalog)
    sources = _image_list(body.get("image_list"))
    prompt = _string(body, "prompt", max_len=MAX_PROMPT)
    if prompt is None or not prompt.strip():
        raise _bad("prompt", "is required and must not be empty (at most 2500 characters)")
    negative_prompt = _string(body, "negative_prompt", max_len=MAX_PROMPT) or ""
    mode = _mode(body, entry, catalog)
    duration = _duration(body, entry, catalog)
    aspect_ratio = _choice(_string(body, "aspect_ratio"), "aspect_ratio", ASPECT_RATIOS, "16:9")
    cfg_scale = _cfg_scale(body)
    callback_url = _url(_string(body, "callback_url"), allow=url_allow)
    external = _string(body, "external_task_id", max_len=MAX_EXTERNAL_ID) or None
    seed = _seed(body)

    parsed = DoorParse(request=GenerationRequest())
    references = [
        parsed.add(f"reference_{i}", load(f"image_list[{i}].image", src))
        for i, src in enumerate(sources)
    ]
    parsed.request = GenerationRequest(
        model_name=entry.name,
        prompt=prompt,
        negative_prompt=negative_prompt,
        duration=duration,
        aspect_ratio=aspect_ratio,
        mode=mode,
        cfg_scale=cfg_scale,
        callback_url=callback_url,
        external_task_id=external,
        references=references,
        seed=seed,
    )
    return parsed


def _model(body: dict, catalog: Catalog) -> ModelEntry:
    name = _string(body, "model_name") or DEFAULT_MODEL
    entry = catalog.get(name)
    offering = ", ".join(catalog.supporting("references")) or "none"
    if entry is None:
        raise _bad(
            "model_name", f"'{name}' is not supported; models that take references: {offering}"
        )
    if not entry.references:
        raise _bad(
            "model_name",
            f"'{name}' takes no reference images on this deployment; models that do: {offering}",
        )
    return entry


def _image_list(value: object) -> list[str]:
    if value is None:
        raise _bad(
            "image_list", f'is required: 1 to {MAX_IMAGES} objects {{"image": URL or base64}}'
        )
    if not isinstance(value, list):
        raise _bad(
            "image_list", f'must be an array of {{"image"}} objects, got {_type_name(value)}'
        )
    if not 1 <= len(value) <= MAX_IMAGES:
        raise _bad("image_list", f"must hold 1 to {MAX_IMAGES} images, got {len(value)}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _bad(f"image_list[{i}]", f'must be an object {{"image"}}, got {_type_name(item)}')
        image = item.get("image")
        if not isinstance(image, str) or not image.strip():
            raise _bad(
                f"image_list[{i}].image",
                "is required: an http(s) URL or raw base64 of a JPG or PNG",
            )
        out.append(image)
    return out
