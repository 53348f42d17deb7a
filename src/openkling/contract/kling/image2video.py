"""Kling's image2video request: the body's rules, images read and checked, a GenerationRequest.

Parsing runs in two passes so that a bad field costs nothing: every field that needs no image
is checked first; only then are the images decoded or fetched (``load``), and the rules that
relate them (mask sizes, trajectory points inside the image) checked last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...domain.catalog import Catalog, ModelEntry
from ...domain.request import DynamicMask, GenerationRequest, ImageInput, Point
from ...domain.vocabulary import DEFAULT_MODEL
from ...errors import InvalidParameter
from ...media.images import InputImage, input_key
from ...net.guard import NOTHING_ALLOWED, AllowList
from ...net.image_fetch import ImageLoader
from ..fields import (
    MAX_EXTERNAL_ID,
    MAX_PROMPT,
    _bad,
    _bool,
    _camera,
    _cfg_scale,
    _duration,
    _mode,
    _number,
    _seed,
    _sound,
    _string,
    _type_name,
    _url,
    _watermark,
)

MAX_DYNAMIC_MASKS = 6
TRAJECTORY_POINTS = (2, 77)
MASK_DURATION = 5  # Kling: a motion-brush request makes a 5-second video

# (field, value) -> a checked image; raises InvalidParameter naming the field


@dataclass
class Image2VideoParse:
    """The parsed request, and the input files it names, to be stored before the task."""

    request: GenerationRequest
    files: dict[str, InputImage] = field(default_factory=dict)  # storage key -> image


def parse_image2video(
    body: Any, catalog: Catalog, load: ImageLoader, *, url_allow: AllowList = NOTHING_ALLOWED
) -> Image2VideoParse:
    """Validate an image2video request body with Kling's rules; raise ``InvalidParameter``.

    ``load`` reads one image field (base64 or URL); ``url_allow`` (``OPENKLING_URL_ALLOW``)
    admits callback hosts the URL guard would refuse."""
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    entry = _model(body, catalog)

    image_src = _image_field(body, "image")
    tail_src = _image_field(body, "image_tail")
    if image_src is None and tail_src is None:
        raise _bad(
            "image",
            "is required (an http(s) URL or raw base64 of a JPG or PNG) unless "
            "image_tail is given; at least one of image and image_tail",
        )
    static_src = _image_field(body, "static_mask")
    dynamic_raw = _dynamic_masks(body.get("dynamic_masks"))
    camera = _camera(body.get("camera_control"))
    has_masks = static_src is not None or bool(dynamic_raw)
    mask_field = "static_mask" if static_src is not None else "dynamic_masks"
    _combination(tail_src is not None, has_masks, camera is not None, mask_field)
    _capabilities(catalog, entry, tail=tail_src is not None, masks=has_masks, camera=camera)

    prompt = _string(body, "prompt", max_len=MAX_PROMPT) or ""
    negative_prompt = _string(body, "negative_prompt", max_len=MAX_PROMPT) or ""
    mode = _mode(body, entry, catalog)
    cfg_scale = _cfg_scale(body)
    duration = _duration(body, entry, catalog)
    if has_masks and duration != MASK_DURATION:
        raise _bad(
            "duration",
            f'must be "{MASK_DURATION}" with static_mask or dynamic_masks, '
            f"got {body.get('duration')!r}",
        )
    sound = _sound(body) or _bool(body, "motion_has_audio")
    if sound and not entry.audio:
        raise _bad(
            "sound",
            f"model '{entry.name}' does not generate audio; models with audio: "
            f"{', '.join(catalog.supporting('audio')) or 'none'}",
        )
    callback_url = _url(_string(body, "callback_url"), allow=url_allow)
    external = _string(body, "external_task_id", max_len=MAX_EXTERNAL_ID) or None
    watermark = _watermark(body)
    seed = _seed(body)

    # the images: decoded or fetched only now that every other field is known to be good
    files: dict[str, InputImage] = {}

    def stored(stem: str, fld: str, src: str) -> tuple[ImageInput, InputImage]:
        image = load(fld, src)
        key = input_key(stem, image)
        files[key] = image
        return ImageInput(key=key, width=image.width, height=image.height), image

    image = tail = static = None
    first: InputImage | None = None
    if image_src is not None:
        image, first = stored("image", "image", image_src)
    if tail_src is not None:
        tail, _ = stored("image_tail", "image_tail", tail_src)
    mask_size: tuple[str, int, int] | None = None
    if static_src is not None:
        static, loaded = stored("static_mask", "static_mask", static_src)
        mask_size = _check_mask("static_mask", loaded, first, mask_size)
    dynamic = []
    for i, (mask_src, points) in enumerate(dynamic_raw):
        fld = f"dynamic_masks[{i}].mask"
        mask, loaded = stored(f"dynamic_mask_{i}", fld, mask_src)
        mask_size = _check_mask(fld, loaded, first, mask_size)
        assert first is not None
        dynamic.append(DynamicMask(mask=mask, trajectory=_trajectory(i, points, first)))

    request = GenerationRequest(
        model_name=entry.name,
        prompt=prompt,
        negative_prompt=negative_prompt,
        duration=duration,
        aspect_ratio=None,  # the image's: the engine's size nearest to it
        mode=mode,
        cfg_scale=cfg_scale,
        camera_control=camera,
        sound=sound,
        callback_url=callback_url,
        external_task_id=external,
        image=image,
        image_tail=tail,
        static_mask=static,
        dynamic_masks=dynamic,
        watermark=watermark,
        seed=seed,
    )
    return Image2VideoParse(request=request, files=files)


def _model(body: dict, catalog: Catalog) -> ModelEntry:
    model_field = "model_name" if body.get("model_name") is not None else "model"
    name = _string(body, model_field) or DEFAULT_MODEL
    entry = catalog.get(name)
    offering = ", ".join(catalog.supporting("image2video")) or "none"
    if entry is None:
        raise _bad("model_name", f"'{name}' is not supported; valid values: {offering}")
    if not entry.image2video:
        raise _bad(
            "model_name",
            f"'{name}' takes no image input on this deployment; models that do: {offering}",
        )
    return entry


def _image_field(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(
            name, f"must be a string (an http(s) URL or raw base64), got {_type_name(value)}"
        )
    return value


def _combination(tail: bool, masks: bool, camera: bool, mask_field: str) -> None:
    """Kling: image_tail, the masks and camera_control exclude one another (and masks need
    ``image``: with only image_tail they are the same conflict)."""
    groups = (
        ("image_tail", "image_tail", tail),
        ("static_mask/dynamic_masks", mask_field, masks),
        ("camera_control", "camera_control", camera),
    )
    used = [(label, fld) for label, fld, on in groups if on]
    if len(used) > 1:
        raise _bad(
            used[1][1],
            f"{' and '.join(label for label, _ in used)} cannot be combined: use only one of "
            "image_tail, static_mask/dynamic_masks or camera_control",
        )


def _capabilities(
    catalog: Catalog, entry: ModelEntry, *, tail: bool, masks: bool, camera: object
) -> None:
    for on, capability, fld, what in (
        (tail, "end_frame", "image_tail", "an end frame (image_tail)"),
        (masks, "masks", "static_mask", "motion-brush masks (static_mask, dynamic_masks)"),
        (camera is not None, "camera", "camera_control", "camera_control"),
    ):
        if on and not entry.offers(capability):
            raise _bad(
                fld,
                f"model '{entry.name}' cannot honour {what} on this deployment; models that "
                f"can: {', '.join(catalog.supporting(capability)) or 'none'}",
            )


def _dynamic_masks(value: object) -> list[tuple[str, list]]:
    if value is None or value == []:
        return []
    if not isinstance(value, list):
        raise _bad(
            "dynamic_masks", f"must be an array of {{mask, trajectories}}, got {_type_name(value)}"
        )
    if len(value) > MAX_DYNAMIC_MASKS:
        raise _bad("dynamic_masks", f"at most {MAX_DYNAMIC_MASKS} masks, got {len(value)}")
    out = []
    low, high = TRAJECTORY_POINTS
    for i, item in enumerate(value):
        where = f"dynamic_masks[{i}]"
        if not isinstance(item, dict):
            raise _bad(where, f"must be an object {{mask, trajectories}}, got {_type_name(item)}")
        mask = _image_field(item, "mask")
        if mask is None:
            raise _bad(
                f"{where}.mask",
                "is required: the painted region, as an http(s) URL or raw base64 of a JPG or PNG",
            )
        points = item.get("trajectories")
        if not isinstance(points, list) or not low <= len(points) <= high:
            got = len(points) if isinstance(points, list) else _type_name(points)
            raise _bad(
                f"{where}.trajectories",
                f"must be an array of {low} to {high} points {{x, y}}, got {got}",
            )
        for j, point in enumerate(points):
            if not isinstance(point, dict) or set(point) - {"x", "y"} or len(point) != 2:
                raise _bad(f"{where}.trajectories[{j}]", 'must be {"x": <px>, "y": <px>}')
            for axis in ("x", "y"):
                _number(point[axis], f"{where}.trajectories[{j}].{axis}")
        out.append((mask, points))
    return out


def _check_mask(
    fld: str, mask: InputImage, image: InputImage | None, size: tuple[str, int, int] | None
) -> tuple[str, int, int]:
    assert image is not None
    if abs(mask.width / mask.height - image.width / image.height) > 0.01:
        raise _bad(
            fld,
            f"the mask is {mask.width}x{mask.height}; its aspect ratio must be "
            f"that of image ({image.width}x{image.height})",
        )
    if size is not None and (mask.width, mask.height) != size[1:]:
        raise _bad(
            fld,
            f"the mask is {mask.width}x{mask.height}, but {size[0]} is "
            f"{size[1]}x{size[2]}: every mask must have the same size",
        )
    return size or (fld, mask.width, mask.height)


def _trajectory(i: int, points: list[dict], image: InputImage) -> list[Point]:
    """Kling's points have their origin at the image's bottom-left corner; openkling keeps them
    from the top-left, as pixels are stored."""
    out = []
    for j, point in enumerate(points):
        x, y = float(point["x"]), float(point["y"])
        if not (0 <= x <= image.width and 0 <= y <= image.height):
            raise _bad(
                f"dynamic_masks[{i}].trajectories[{j}]",
                f"({point['x']}, {point['y']}) is outside image ({image.width}x{image.height}); "
                "points are pixels from the image's bottom-left corner",
            )
        out.append(Point(x=x, y=image.height - y))
    return out
