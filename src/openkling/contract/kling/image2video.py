"""Kling's image2video request: one model that reads the body with Kling's rules and documents
it; images read and checked; the ``GenerationRequest`` and the input files it makes.

Parsing runs in two passes so that a bad field costs nothing: the model checks every field
that needs no image first; only then are the images decoded or fetched (``load``), and the
rules that relate them (mask sizes, trajectory points inside the image) checked last.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core.core_schema import ValidationInfo

from ...domain.catalog import Catalog, ModelEntry
from ...domain.request import (
    CameraControl,
    DynamicMask,
    GenerationRequest,
    ImageInput,
    Parsed,
    Point,
)
from ...errors import InvalidParameter
from ...media.images import InputImage, input_key
from ...net.guard import NOTHING_ALLOWED, AllowList
from ...net.image_fetch import ImageLoader
from .. import fields
from ..fields import MAX_PROMPT, _bad, _camera, _number, _type_name
from ..model import Reads, RequestModel, validate
from .request import (
    CALLBACK_DOC,
    DURATION_DOC,
    EXTERNAL_DOC,
    SEED_DOC,
    SOUND_DOC,
    WATERMARK_DOC,
    CallbackUrl,
    CfgScale,
    ExternalTaskId,
    KlingContext,
    Mode,
    ModelAlias,
    Seed,
    Sound,
    Watermark,
    context_of,
    entry_of,
    model_field,
    model_rule,
    text,
)

MAX_DYNAMIC_MASKS = 6
TRAJECTORY_POINTS = (2, 77)
MASK_DURATION = 5  # Kling: a motion-brush request makes a 5-second video

# (field, value) -> a checked image; raises InvalidParameter naming the field


def _offers_image2video(name: str, catalog: Catalog) -> ModelEntry:
    entry = catalog.get(name)
    if entry is not None and entry.image2video:
        return entry
    offering = ", ".join(catalog.supporting("image2video")) or "none"
    if entry is None:
        raise _bad("model_name", f"'{name}' is not supported; valid values: {offering}")
    if not entry.image2video:
        raise _bad(
            "model_name",
            f"'{name}' takes no image input on this deployment; models that do: {offering}",
        )
    return entry


def _image(value: Any, name: str, info: ValidationInfo) -> str | None:
    return _image_field({name: value}, name)


def _image_tail(value: Any, name: str, info: ValidationInfo) -> str | None:
    tail = _image_field({name: value}, name)
    if tail is None and "image" in info.data and info.data["image"] is None:
        raise _bad(
            "image",
            "is required (an http(s) URL or raw base64 of a JPG or PNG) unless "
            "image_tail is given; at least one of image and image_tail",
        )
    return tail


def _masks(value: Any, name: str, info: ValidationInfo) -> list[tuple[str, list]]:
    return _dynamic_masks(value)


def _camera_and_combination(value: Any, name: str, info: ValidationInfo) -> CameraControl | None:
    """``camera_control``, then the rules relating it, image_tail and the masks: they exclude
    one another, and the model must honour the one given."""
    camera = _camera(value)
    data = info.data
    if not {"image_tail", "static_mask", "dynamic_masks"} <= set(data):
        return camera  # one of them was refused: the combination cannot be judged
    has_masks = data["static_mask"] is not None or bool(data["dynamic_masks"])
    mask_field = "static_mask" if data["static_mask"] is not None else "dynamic_masks"
    tail = data["image_tail"] is not None
    _combination(tail, has_masks, camera is not None, mask_field)
    entry = entry_of(info)
    if entry is not None:
        _capabilities(context_of(info).catalog, entry, tail=tail, masks=has_masks, camera=camera)
    return camera


def _mask_duration(value: Any, name: str, info: ValidationInfo) -> int:
    seconds = fields.duration(value, entry_of(info), context_of(info).catalog)
    has_masks = info.data.get("static_mask") is not None or bool(info.data.get("dynamic_masks"))
    if has_masks and seconds != MASK_DURATION:
        raise _bad(
            "duration",
            f'must be "{MASK_DURATION}" with static_mask or dynamic_masks, got {value!r}',
        )
    return seconds


def _audio(value: Any, name: str, info: ValidationInfo) -> bool:
    """``motion_has_audio``, the same switch as ``sound``; either needs a model with audio."""
    on = info.data.get("sound") is True or fields.flag(value, name)
    entry = entry_of(info)
    if on and entry is not None and not entry.audio:
        raise _bad(
            "sound",
            f"model '{entry.name}' does not generate audio; models with audio: "
            f"{', '.join(context_of(info).catalog.supporting('audio')) or 'none'}",
        )
    return on


IMAGE_DOC = "raw base64 (no data: prefix) or an http(s) URL; JPG or PNG"


class DynamicMaskWire(BaseModel):
    """The wire shape of one ``dynamic_masks`` entry."""

    model_config = ConfigDict(title="DynamicMask")
    mask: str = Field(..., description="an image, as for image")
    trajectories: list[Point] = Field(
        ...,
        min_length=TRAJECTORY_POINTS[0],
        max_length=TRAJECTORY_POINTS[1],
        description="pixels from the image's bottom-left corner",
    )


ImageField = Annotated[str | None, Reads(_image, wire=str)]


class Image2VideoRequest(RequestModel):
    """The body of ``POST /v1/videos/image2video``. Fields Kling does not know are ignored.

    Its fields are checked first; the images are read (decoded or fetched) only after, by
    ``parse_image2video``."""

    model: ModelAlias = None
    model_name: Annotated[str, model_rule(_offers_image2video)] = model_field()
    image: ImageField = Field(None, description=IMAGE_DOC)
    image_tail: Annotated[str | None, Reads(_image_tail, wire=str)] = Field(
        None, validate_default=True, description="the last frame; as image"
    )
    static_mask: ImageField = Field(None, description="an image, as for image")
    dynamic_masks: Annotated[
        list[tuple[str, list]],
        Reads(_masks, wire=Annotated[list[DynamicMaskWire], Field(max_length=MAX_DYNAMIC_MASKS)]),
    ] = Field(default_factory=list)
    camera_control: Annotated[
        CameraControl | None, Reads(_camera_and_combination, wire=CameraControl)
    ] = Field(None, validate_default=True)
    prompt: Annotated[str | None, text(MAX_PROMPT)] = Field(None, json_schema_extra={"default": ""})
    negative_prompt: Annotated[str | None, text(MAX_PROMPT)] = Field(
        None, json_schema_extra={"default": ""}
    )
    mode: Mode = Field("std", validate_default=True)
    cfg_scale: CfgScale = 0.5
    duration: Annotated[int, Reads(_mask_duration, wire=str | int)] = Field(
        None, validate_default=True, description=DURATION_DOC
    )
    sound: Sound = Field(False, description=SOUND_DOC, json_schema_extra={"default": "off"})
    motion_has_audio: Annotated[bool, Reads(_audio, wire=bool)] = Field(
        False, validate_default=True, description="the same switch as sound"
    )
    callback_url: CallbackUrl = Field(None, description=CALLBACK_DOC)
    external_task_id: ExternalTaskId = Field(None, description=EXTERNAL_DOC)
    watermark_info: Watermark = Field(False, description=WATERMARK_DOC)
    seed: Seed = Field(None, description=SEED_DOC)


def parse_image2video(
    body: Any, catalog: Catalog, load: ImageLoader, *, url_allow: AllowList = NOTHING_ALLOWED
) -> Parsed:
    """Validate an image2video request body with Kling's rules; raise ``InvalidParameter``.

    ``load`` reads one image field (base64 or URL); ``url_allow`` (``OPENKLING_URL_ALLOW``)
    admits callback hosts the URL guard would refuse."""
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    model = validate(Image2VideoRequest, body, KlingContext(catalog, url_allow))

    # the images: decoded or fetched only now that every other field is known to be good
    files: dict[str, InputImage] = {}

    def stored(stem: str, fld: str, src: str) -> tuple[ImageInput, InputImage]:
        image = load(fld, src)
        key = input_key(stem, image)
        files[key] = image
        return ImageInput(key=key, width=image.width, height=image.height), image

    image = tail = static = None
    first: InputImage | None = None
    if model.image is not None:
        image, first = stored("image", "image", model.image)
    if model.image_tail is not None:
        tail, _ = stored("image_tail", "image_tail", model.image_tail)
    mask_size: tuple[str, int, int] | None = None
    if model.static_mask is not None:
        static, loaded = stored("static_mask", "static_mask", model.static_mask)
        mask_size = _check_mask("static_mask", loaded, first, mask_size)
    dynamic = []
    for i, (mask_src, points) in enumerate(model.dynamic_masks):
        fld = f"dynamic_masks[{i}].mask"
        mask, loaded = stored(f"dynamic_mask_{i}", fld, mask_src)
        mask_size = _check_mask(fld, loaded, first, mask_size)
        assert first is not None
        dynamic.append(DynamicMask(mask=mask, trajectory=_trajectory(i, points, first)))

    request = GenerationRequest(
        model_name=model.model_name,
        prompt=model.prompt or "",
        negative_prompt=model.negative_prompt or "",
        duration=model.duration,
        aspect_ratio=None,  # the image's: the engine's size nearest to it
        mode=model.mode,
        cfg_scale=model.cfg_scale,
        camera_control=model.camera_control,
        sound=model.motion_has_audio,
        callback_url=model.callback_url,
        external_task_id=model.external_task_id,
        image=image,
        image_tail=tail,
        static_mask=static,
        dynamic_masks=dynamic,
        watermark=model.watermark_info,
        seed=model.seed,
    )
    return Parsed(request, files)


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
