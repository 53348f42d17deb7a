"""Kling's image generation request (``POST /v1/images/generations``): one model that validates
and documents the body, and its parse into a GenerationRequest with the reference image.

Every field is checked before the reference image is decoded or fetched, so a bad field costs
nothing; the image is read last, under the same rules as image2video's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from ...domain.catalog import Catalog
from ...domain.request import GenerationRequest, ImageInput, InputFile, Parsed
from ...domain.vocabulary import (
    DEFAULT_IMAGE_MODEL,
    IMAGE_ASPECT_RATIOS,
    IMAGE_MODEL_NAMES,
    IMAGE_REFERENCES,
    IMAGE_RESOLUTIONS,
    MAX_IMAGES,
)
from ...errors import InvalidParameter
from ...media.images import input_key
from ...net.guard import MAX_URL, NOTHING_ALLOWED, AllowList
from ...net.image_fetch import ImageLoader
from ..fields import MAX_EXTERNAL_ID, MAX_PROMPT, _bad, _string, _type_name, _url, seed
from ..model import RequestModel


class ImageGenerationRequest(RequestModel):
    """The body of ``POST /v1/images/generations``. Fields Kling does not know are ignored."""

    model_config = ConfigDict(strict=True)

    model_name: Literal[IMAGE_MODEL_NAMES] = Field(  # type: ignore[valid-type]
        DEFAULT_IMAGE_MODEL, description="an image model; the older field `model` is read too"
    )
    prompt: str = Field(..., min_length=1, max_length=MAX_PROMPT)
    negative_prompt: str = Field("", max_length=MAX_PROMPT)
    image: str | None = Field(
        None,
        description="a reference image: raw base64 (no data: prefix) or an http(s) URL; JPG or "
        "PNG, at most 10 MB, sides of 300 px or more, aspect between 1:2.5 and 2.5:1",
    )
    image_reference: Literal[IMAGE_REFERENCES] | None = Field(  # type: ignore[valid-type]
        None, description="what the reference gives: subject (the character) or face; needs image"
    )
    image_fidelity: float = Field(
        0.5, ge=0, le=1, description="how closely the pictures keep the reference image"
    )
    human_fidelity: float = Field(
        0.45, ge=0, le=1, description='with image_reference "subject": the likeness kept'
    )
    resolution: Literal[IMAGE_RESOLUTIONS] = "1k"  # type: ignore[valid-type]
    n: int = Field(1, ge=1, le=MAX_IMAGES, description="pictures to make; each is one slot")
    aspect_ratio: Literal[IMAGE_ASPECT_RATIOS] = "16:9"  # type: ignore[valid-type]
    callback_url: str | None = Field(
        None, max_length=MAX_URL, description="http(s) URL on a public host"
    )
    external_task_id: str | None = Field(
        None, max_length=MAX_EXTERNAL_ID, description="unique per account"
    )
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="openkling: a fixed seed")

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank")
        return value

    @field_validator("image_fidelity", "human_fidelity", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        # a JSON integer is a number too (0 and 1 are the ends of the range)
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


def _message(error: ErrorDetails) -> InvalidParameter:
    """One pydantic error as Kling's 1201: the field, what is allowed, what was given."""
    field = ".".join(str(part) for part in error["loc"]) or "body"
    name = str(error["loc"][0]) if error["loc"] else ""
    got = error.get("input")
    kind = error["type"]
    info = ImageGenerationRequest.model_fields.get(name)
    if kind == "missing" or (name == "prompt" and kind in ("string_too_short", "value_error")):
        return _bad(field, f"is required and must not be empty (at most {MAX_PROMPT} characters)")
    if kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        return _bad(field, f"must be at most {limit} characters, got {len(str(got))}")
    if kind == "literal_error":
        allowed = error.get("ctx", {}).get("expected", "")
        allowed = allowed.replace("'", "").replace(" or ", ", ")
        return _bad(field, f"{got!r} is not allowed; allowed values: {allowed}")
    bounds = {type(m).__name__: m for m in (info.metadata if info else [])}
    low, high = getattr(bounds.get("Ge"), "ge", None), getattr(bounds.get("Le"), "le", None)
    if low is not None and high is not None:
        integer = info is not None and info.annotation in (int, int | None)
        what = "an integer" if integer else "a number"
        return _bad(field, f"must be {what} from {low} to {high}, got {_shown(got)}")
    if kind.endswith("_type"):
        return _bad(field, f"must be a string, got {_type_name(got)}")
    return _bad(field, "is not valid")


def _shown(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    return _type_name(value)


def validate(body: Any) -> ImageGenerationRequest:
    """The body checked against the model; raises InvalidParameter for the first bad field."""
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    if body.get("model_name") in (None, "") and isinstance(body.get("model"), str):
        body = {**body, "model_name": body["model"]}  # Kling's older name of the field
    body = {k: v for k, v in body.items() if not (v is None and k != "prompt")}
    for name in ("prompt", "negative_prompt", "image", "external_task_id", "callback_url"):
        _string(body, name)  # NUL characters and lone surrogates, refused as text2video does
    seed(body.get("seed"))
    try:
        return ImageGenerationRequest.model_validate(body)
    except ValidationError as exc:
        raise _message(exc.errors()[0]) from None


def parse_image_generation(
    body: Any, catalog: Catalog, load: ImageLoader, *, url_allow: AllowList = NOTHING_ALLOWED
) -> Parsed:
    """Validate an image generation body with Kling's rules; the reference image read last."""
    req = validate(body)
    entry = catalog.images.get(req.model_name)
    if entry is None:
        raise _bad(
            "model_name",
            f"'{req.model_name}' is not supported; valid values: {', '.join(catalog.images)}",
        )
    source = req.image or None
    if req.image_reference is not None and source is None:
        raise _bad(
            "image",
            f'is required when image_reference is "{req.image_reference}" (an http(s) URL or '
            "raw base64 of a JPG or PNG)",
        )
    if source is not None and not entry.reference:
        takers = [e.name for e in catalog.images.values() if e.reference]
        raise _bad(
            "image",
            f"model '{entry.name}' takes no reference image on this deployment; models that "
            f"do: {', '.join(takers) or 'none'}",
        )
    callback_url = _url(req.callback_url, allow=url_allow)
    inputs: dict[str, InputFile] = {}
    reference = None
    if source is not None:  # decoded or fetched only now that every other field is good
        picture = load("image", source)
        key = input_key("image", picture)
        inputs[key] = picture
        reference = ImageInput(key=key, width=picture.width, height=picture.height)
    request = GenerationRequest(
        model_name=req.model_name,
        prompt=req.prompt,
        negative_prompt=req.negative_prompt,
        aspect_ratio=req.aspect_ratio,
        callback_url=callback_url,
        external_task_id=req.external_task_id or None,
        image=reference,
        seed=req.seed,
        output="image",
        n=req.n,
        resolution=req.resolution,
        image_reference=req.image_reference,
        image_fidelity=req.image_fidelity,
        human_fidelity=req.human_fidelity,
    )
    return Parsed(request=request, inputs=inputs)
