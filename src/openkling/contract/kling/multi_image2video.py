"""Kling's multi-image2video request: one model that reads the body with Kling's rules and
documents it; then the one to four reference pictures read, and the ``GenerationRequest``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core.core_schema import ValidationInfo

from ...domain.catalog import Catalog, ModelEntry
from ...domain.request import GenerationRequest, Parsed
from ...domain.vocabulary import ASPECT_RATIOS, MODEL_NAMES
from ...errors import InvalidParameter
from ...net.guard import NOTHING_ALLOWED, AllowList
from ...net.image_fetch import ImageLoader
from .. import fields
from ..fields import MAX_PROMPT, _bad, _choice, _type_name
from ..model import Reads, RequestModel, validate
from .neighbours import DoorParse
from .request import (
    CALLBACK_DOC,
    EXTERNAL_DOC,
    SEED_DOC,
    CallbackUrl,
    Duration,
    ExternalTaskId,
    KlingContext,
    Mode,
    Seed,
    context_of,
    text,
)

DEFAULT_MODEL = "kling-v1-6"  # Kling's default (and, on Kling, only) model for this door
MAX_IMAGES = 4


def _model(value: Any, field: str, info: ValidationInfo) -> str:
    """``model_name``: a model whose profile offers reference images on this deployment."""
    name = fields.text(value, field) or DEFAULT_MODEL
    catalog = context_of(info).catalog
    entry: ModelEntry | None = catalog.get(name)
    legacy = [n for n in catalog.supporting("references") if catalog.models[n].api == "legacy"]
    offering = ", ".join(legacy) or "none"
    if entry is None or entry.api != "legacy":
        raise _bad(field, f"'{name}' is not supported; models that take references: {offering}")
    if not entry.references:
        raise _bad(
            field,
            f"'{name}' takes no reference images on this deployment; models that do: {offering}",
        )
    return name


class ImageItem(BaseModel):
    """The wire shape of one ``image_list`` entry."""

    model_config = ConfigDict(title="ImageItem")
    image: str = Field(..., description="raw base64 (no data: prefix) or an http(s) URL")


def _image_list(value: Any, field: str, info: ValidationInfo) -> list[str]:
    if value is None:
        raise _bad(field, f'is required: 1 to {MAX_IMAGES} objects {{"image": URL or base64}}')
    if not isinstance(value, list):
        raise _bad(field, f'must be an array of {{"image"}} objects, got {_type_name(value)}')
    if not 1 <= len(value) <= MAX_IMAGES:
        raise _bad(field, f"must hold 1 to {MAX_IMAGES} images, got {len(value)}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _bad(f"{field}[{i}]", f'must be an object {{"image"}}, got {_type_name(item)}')
        image = item.get("image")
        if not isinstance(image, str) or not image.strip():
            raise _bad(
                f"{field}[{i}].image", "is required: an http(s) URL or raw base64 of a JPG or PNG"
            )
        out.append(image)
    return out


def _prompt(value: Any, field: str, info: ValidationInfo) -> str:
    prompt = fields.text(value, field, max_len=MAX_PROMPT)
    if prompt is None or not prompt.strip():
        raise _bad(field, "is required and must not be empty (at most 2500 characters)")
    return prompt


def _aspect(value: Any, field: str, info: ValidationInfo) -> str:
    return _choice(fields.text(value, field), field, ASPECT_RATIOS, "16:9")


class MultiImage2VideoRequest(RequestModel):
    """The body of ``POST /v1/videos/multi-image2video``: a video in which 1 to 4 reference
    pictures appear. Fields Kling does not know are ignored; the pictures are read after."""

    wire_required = ("image_list", "prompt")

    model_name: Annotated[str, Reads(_model, wire=Literal[MODEL_NAMES])] = Field(
        None,
        validate_default=True,
        description="a model that takes reference images here (GET /v1/models: references)",
        json_schema_extra={"default": DEFAULT_MODEL},
    )
    image_list: Annotated[
        list[str],
        Reads(_image_list, wire=Annotated[list[ImageItem], Field(min_length=1, max_length=4)]),
    ] = Field(None, validate_default=True)
    prompt: Annotated[str, Reads(_prompt, wire=Annotated[str, Field(max_length=MAX_PROMPT)])] = (
        Field(None, validate_default=True)
    )
    negative_prompt: Annotated[str | None, text(MAX_PROMPT)] = None
    mode: Mode = Field("std", validate_default=True)
    duration: Duration = Field(None, validate_default=True, description='seconds: "5" or "10"')
    aspect_ratio: Annotated[str, Reads(_aspect, wire=Literal[ASPECT_RATIOS])] = Field(
        "16:9", validate_default=True
    )
    callback_url: CallbackUrl = Field(None, description=CALLBACK_DOC)
    external_task_id: ExternalTaskId = Field(None, description=EXTERNAL_DOC)
    seed: Seed = Field(None, description=SEED_DOC)


def parse_multi_image2video(
    body: Any, catalog: Catalog, load: ImageLoader, *, url_allow: AllowList = NOTHING_ALLOWED
) -> Parsed:
    """Validate a multi-image2video body; images are read only after every other field."""
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    model = validate(MultiImage2VideoRequest, body, KlingContext(catalog, url_allow))
    files = DoorParse()
    references = [
        files.add(f"reference_{i}", load(f"image_list[{i}].image", src))
        for i, src in enumerate(model.image_list)
    ]
    request = GenerationRequest(
        model_name=model.model_name,
        prompt=model.prompt,
        negative_prompt=model.negative_prompt or "",
        duration=model.duration,
        aspect_ratio=model.aspect_ratio,
        mode=model.mode,
        callback_url=model.callback_url,
        external_task_id=model.external_task_id,
        references=references,
        seed=model.seed,
    )
    return Parsed(request, files.files)
