"""The OpenAI video requests: the create body (JSON or a multipart form) and the remix body,
each one model that reads it with OpenAI's rules in openkling's words and documents it
(``contract/model.py``); the model map; the list and content queries.

The create's rules are checked in this order, the first field at fault reported: unknown
parameters, prompt, model, size, seconds, input_reference. Whether the mapped Kling model
serves the request (``check_target``) is judged after, against the catalog.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core.core_schema import ValidationInfo

from ... import errors as e
from ...domain.catalog import Catalog
from ...domain.request import GenerationRequest, ImageInput, Parsed
from ...domain.vocabulary import DEFAULT_MODEL
from ...errors import InvalidParameter
from ...media.images import MAX_IMAGE_BYTES, InputImage, check_image, input_key
from ...net.image_fetch import ImageLoader
from .. import fields
from ..fields import MAX_PROMPT, MAX_URL, _type_name
from ..model import Reads, RequestModel, refusal, validate
from .ids import task_id_of

DEFAULT_OPENAI_MODEL = "sora-2"
OPENAI_MODELS = ("sora-2", "sora-2-pro")
SECONDS = ("4", "8", "12", "16", "20")
DEFAULT_SECONDS = "4"
SIZES: dict[str, tuple[int, int]] = {
    "720x1280": (720, 1280),
    "1280x720": (1280, 720),
    "1024x1792": (1024, 1792),
    "1792x1024": (1792, 1024),
}
DEFAULT_SIZE = "720x1280"
ORDERS = ("asc", "desc")
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 20
REFERENCE = "input_reference"  # the field (and the stored file's stem) of the first frame

# what GET /v1/videos/{id}/content?variant= serves, and its content type
VARIANTS: dict[str, str] = {
    "video": "video/mp4",
    "thumbnail": "image/jpeg",
    "spritesheet": "image/jpeg",
}


def _bad(param: str, message: str) -> InvalidParameter:
    return InvalidParameter(f"{param}: {message}", param=param)


# ---- model mapping --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelTarget:
    """The Kling model and mode that serve one OpenAI model name."""

    model_name: str
    mode: str


def model_targets(setting: Mapping[str, str], catalog: Catalog) -> dict[str, ModelTarget]:
    """OpenAI model name -> Kling model and mode, from ``OPENKLING_OPENAI_MODEL_MAP``; unset,
    sora-2 is the catalog's default model in std mode and sora-2-pro the same model in pro."""
    if setting:
        targets = {}
        for name, value in setting.items():
            model, _, mode = value.partition(":")
            targets[name] = ModelTarget(model, mode or "std")
        return targets
    base = DEFAULT_MODEL if DEFAULT_MODEL in catalog.models else next(iter(catalog.names), "")
    return {"sora-2": ModelTarget(base, "std"), "sora-2-pro": ModelTarget(base, "pro")}


_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def target_name(model: str, models: Mapping[str, ModelTarget]) -> str | None:
    """The map entry serving ``model``: itself, or for a dated snapshot such as
    sora-2-2025-10-06 the name without its date."""
    if model in models:
        return model
    base = _SNAPSHOT.sub("", model)
    return base if base in models else None


# ---- field readers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """An uploaded file (a multipart part)."""

    data: bytes
    content_type: str
    filename: str


@dataclass(frozen=True)
class ImageUrl:
    """``input_reference: {"image_url": ...}``: an http(s) URL or a base64 ``data:`` URL."""

    url: str


class FormFields(dict[str, Any]):
    """The fields of a multipart (or url-encoded) form, files as ``Upload``: a create body
    sent as a form is read by ``VideoCreateForm``."""


@dataclass(frozen=True)
class OpenAIContext:
    """What the rules need beyond the body: the OpenAI model names this server maps."""

    models: Mapping[str, ModelTarget]


def _text_value(value: object, field: str) -> str | None:
    if isinstance(value, Upload):
        raise _bad(field, "must be a text field, not a file")
    return fields.text(value, field)


def _prompt(value: object) -> str:
    if isinstance(value, Upload):
        raise _bad("prompt", "must be a text field, not a file")
    if value is not None and not isinstance(value, str):
        raise _bad("prompt", f"must be a string, got {_type_name(value)}")
    if value is None or not value.strip():
        raise _bad("prompt", f"is required and must not be empty (at most {MAX_PROMPT} characters)")
    if len(value) > MAX_PROMPT:
        raise _bad("prompt", f"must be at most {MAX_PROMPT} characters, got {len(value)}")
    return fields.text(value, "prompt") or ""  # NUL and lone-surrogate checks


def _model(value: object, field: str, info: ValidationInfo) -> str:
    model = _text_value(value, field) or DEFAULT_OPENAI_MODEL
    context = info.context
    assert isinstance(context, OpenAIContext), "OpenAI models are validated with OpenAIContext"
    if target_name(model, context.models) is None:
        raise _bad(
            "model", f"'{model}' is not allowed; allowed values: {', '.join(context.models)}"
        )
    return model


def _size(value: object, field: str, info: ValidationInfo) -> str:
    size = _text_value(value, field) or DEFAULT_SIZE
    if size not in SIZES:
        raise _bad("size", f"'{size}' is not allowed; allowed values: {', '.join(SIZES)}")
    return size


def _seconds(value: object, field: str, info: ValidationInfo) -> str:
    if value is None:
        return DEFAULT_SECONDS
    allowed = ", ".join(f'"{s}"' for s in SECONDS)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = str(int(value))
    if not isinstance(value, str) or value.strip() not in SECONDS:
        shown = value if isinstance(value, str) else f"{_type_name(value)} {value!r}"
        raise _bad("seconds", f"{shown!r} is not allowed; allowed values: {allowed}")
    return value.strip()


def _reference(value: object, field: str, info: ValidationInfo) -> Upload | ImageUrl | None:
    if value is None or isinstance(value, Upload):
        if isinstance(value, Upload) and not value.data:
            raise _bad("input_reference", "the uploaded file is empty")
        return value
    if isinstance(value, str):
        raise _bad(
            "input_reference",
            "must be an uploaded image file (multipart/form-data) or an object "
            '{"image_url": "..."}',
        )
    if not isinstance(value, dict):
        raise _bad("input_reference", f"must be a file or an object, got {_type_name(value)}")
    unknown = sorted(set(value) - {"image_url", "file_id"})
    if unknown:
        raise _bad(
            "input_reference",
            f"unknown key '{unknown[0]}'; allowed keys: image_url, file_id",
        )
    if value.get("file_id") is not None:
        raise _bad(
            "input_reference.file_id",
            "openkling has no Files API; upload the image as input_reference or send "
            '{"image_url": "https://... or data:image/...;base64,..."}',
        )
    url = value.get("image_url")
    if not isinstance(url, str) or not url.strip():
        raise _bad("input_reference.image_url", "is required and must be a non-empty string")
    url = url.strip()
    if not url.startswith("data:") and len(url) > MAX_URL:
        raise _bad("input_reference.image_url", f"must be at most {MAX_URL} characters")
    scheme = url.partition(":")[0].lower()
    if scheme not in ("http", "https", "data"):
        raise _bad(
            "input_reference.image_url",
            "must be an http(s) URL or a data:image/...;base64 URL",
        )
    return ImageUrl(url)


def _is_nested(key: object) -> bool:
    return isinstance(key, str) and key.startswith("input_reference[") and key.endswith("]")


# ---- the create -----------------------------------------------------------------------------

KNOWN_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")


class ImageReference(BaseModel):
    """The wire shape of ``input_reference`` in a JSON body."""

    image_url: str = Field(..., description="an http(s) URL, or data:image/...;base64,...")


PromptText = Annotated[
    str,
    Reads(
        lambda value, field, info: _prompt(value),
        wire=Annotated[str, Field(min_length=1, max_length=MAX_PROMPT)],
    ),
]


class VideoCreateRequest(RequestModel):
    """The body of ``POST /v1/videos`` sent as JSON. Unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")
    wire_required = ("prompt",)

    prompt: PromptText = Field(None, validate_default=True)
    model: Annotated[
        str,
        Reads(_model, wire=Literal[OPENAI_MODELS]),
    ] = Field(DEFAULT_OPENAI_MODEL, description="or a dated snapshot, e.g. sora-2-2025-10-06")
    size: Annotated[str, Reads(_size, wire=Literal[tuple(SIZES)])] = DEFAULT_SIZE
    seconds: Annotated[
        str,
        Reads(_seconds, wire=Literal[SECONDS]),
    ] = DEFAULT_SECONDS
    input_reference: Annotated[Upload | ImageUrl | None, Reads(_reference, wire=ImageReference)] = (
        Field(None, description="the first frame: JPG or PNG")
    )

    @model_validator(mode="before")
    @classmethod
    def _known_parameters(cls, body: Any) -> Any:
        """Unknown parameters are refused first; a form's ``input_reference[image_url]``
        field is the JSON body's ``{"input_reference": {"image_url": ...}}``."""
        if not isinstance(body, Mapping):
            return body
        for key in body:
            if key not in KNOWN_FIELDS and not _is_nested(key):
                allowed = ", ".join(KNOWN_FIELDS)
                raise refusal(_bad(str(key), f"unknown parameter; allowed: {allowed}"))
        nested = {k[len("input_reference[") : -1]: v for k, v in body.items() if _is_nested(k)}
        data = {k: v for k, v in body.items() if not _is_nested(k)}
        if data.get("input_reference") is None and nested:
            data["input_reference"] = nested
        return data

    @property
    def reference(self) -> Upload | ImageUrl | None:
        return self.input_reference

    @property
    def width_height(self) -> tuple[int, int]:
        return SIZES[self.size]


class VideoCreateForm(VideoCreateRequest):
    """The body of ``POST /v1/videos`` sent as multipart/form-data: the image is a file."""

    input_reference: Annotated[Upload | ImageUrl | None, Reads(_reference, wire=bytes)] = Field(
        None, description="the first frame: a JPG or PNG file"
    )


# the create as the routes and tests name it
VideoCreate = VideoCreateRequest


def parse_create(body: Any, models: Mapping[str, ModelTarget]) -> VideoCreateRequest:
    """Check a create body (a JSON object, or a form's fields with files as ``Upload``)."""
    if not isinstance(body, Mapping):
        raise e.MalformedRequest(f"request body must be a JSON object, got {_type_name(body)}")
    model = VideoCreateForm if isinstance(body, FormFields) else VideoCreateRequest
    return validate(model, body, OpenAIContext(models))


def check_target(create: VideoCreateRequest, target: ModelTarget, catalog: Catalog) -> None:
    """The catalog says whether the mapped Kling model serves this request at all."""
    entry = catalog.get(target.model_name)
    if entry is None or target.mode not in entry.modes:
        raise e.InternalError(
            f"model: '{create.model}' maps to {target.model_name} in {target.mode} mode, which "
            "this server does not serve; set OPENKLING_OPENAI_MODEL_MAP"
        )
    if create.reference is None and not entry.text2video:
        raise _bad(
            "input_reference",
            f"is required: model '{create.model}' is served by {target.model_name}, which "
            "makes video from an image only",
        )
    if create.reference is not None and not entry.image2video:
        raise _bad(
            "input_reference",
            f"model '{create.model}' is served by {target.model_name}, which does not take an "
            f"image; models that do: {', '.join(catalog.supporting('image2video')) or 'none'}",
        )


def generation_request(
    create: VideoCreateRequest,
    target: ModelTarget,
    image: ImageInput | None,
    *,
    exact_size: bool = True,
) -> GenerationRequest:
    """The normalised request for ``create`` served by ``target`` (see ``check_target``):
    exactly the requested size, or with ``exact_size`` off its aspect at the engine's own
    resolution."""
    width, height = create.width_height
    return GenerationRequest(
        model_name=target.model_name,
        prompt=create.prompt,
        duration=int(create.seconds),
        aspect_ratio="16:9" if width > height else "9:16",
        mode=target.mode,
        image=image,
        size=(width, height) if exact_size else None,
        wire={"model": create.model, "size": create.size},
    )


def reference_image(reference: Upload | ImageUrl, load: ImageLoader) -> InputImage:
    """The reference's bytes, checked as an input image (JPG or PNG); URLs are read by
    ``load`` (through the URL guard)."""
    if isinstance(reference, Upload):
        return check_image(reference.data, REFERENCE)
    field = f"{REFERENCE}.image_url"
    url = reference.url
    if url[:5].lower() == "data:":  # a data URL is data: never a URL inside it
        return check_image(data_url_bytes(url, field), field)
    return load(field, url)


_DATA_TYPES = ("image/png", "image/jpeg", "image/jpg")
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def data_url_bytes(url: str, field: str) -> bytes:
    """The bytes of a ``data:image/png;base64,...`` URL (RFC 2397), decoded strictly."""
    head, comma, payload = url.partition(",")
    params = [p.strip().lower() for p in head[5:].split(";")]
    if not comma or params[-1:] != ["base64"] or params[0] not in _DATA_TYPES:
        raise InvalidParameter(
            f"{field}: a data URL must be data:image/png;base64,... or data:image/jpeg;base64,...",
            param=field,
        )
    text = "".join(payload.split())
    if len(text) * 3 // 4 > MAX_IMAGE_BYTES + 2:
        raise InvalidParameter(
            f"{field}: the image is over {MAX_IMAGE_BYTES // (1024 * 1024)} MB", param=field
        )
    if not text or len(text) % 4 or not _BASE64_TEXT.fullmatch(text):
        raise InvalidParameter(
            f"{field}: the data URL's payload is not valid base64 (A-Z a-z 0-9 + /, padded with =)",
            param=field,
        )
    return base64.b64decode(text, validate=True)


def stored_reference(image: InputImage | None) -> tuple[ImageInput | None, dict[str, InputImage]]:
    """The request's reference to an input image, and the file to store under it."""
    if image is None:
        return None, {}
    stored = ImageInput(key=input_key(REFERENCE, image), width=image.width, height=image.height)
    return stored, {stored.key: image}


def parse_video_create(
    body: Any,
    targets: Mapping[str, ModelTarget],
    catalog: Catalog,
    load: ImageLoader,
    *,
    exact_size: bool = True,
) -> Parsed:
    """The create door's parse: the body's rules, the catalog's, then the reference image
    read (only once every field passed), as the request and the file to store."""
    create = parse_create(body, targets)
    name = target_name(create.model, targets)
    assert name is not None  # parse_create refused any other model
    target = targets[name]
    check_target(create, target, catalog)
    image = reference_image(create.reference, load) if create.reference is not None else None
    stored, inputs = stored_reference(image)
    return Parsed(generation_request(create, target, stored, exact_size=exact_size), inputs)


# ---- the remix ------------------------------------------------------------------------------


class VideoRemixRequest(RequestModel):
    """The body of ``POST /v1/videos/{video_id}/remix``: the new prompt."""

    model_config = ConfigDict(extra="forbid")
    wire_required = ("prompt",)

    prompt: PromptText = Field(None, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _known_parameters(cls, body: Any) -> Any:
        if isinstance(body, Mapping):
            for key in body:
                if key != "prompt":
                    raise refusal(_bad(str(key), "unknown parameter; allowed: prompt"))
        return body


def parse_remix(body: Any) -> str:
    """The new prompt of ``POST /v1/videos/{id}/remix``."""
    if not isinstance(body, Mapping):
        raise e.MalformedRequest(f"request body must be a JSON object, got {_type_name(body)}")
    return validate(VideoRemixRequest, body).prompt


def remix_request(
    source: GenerationRequest, prompt: str, seed: int, source_id: str
) -> GenerationRequest:
    """The source's settings and seed with a new prompt."""
    return source.model_copy(
        update={"prompt": prompt, "seed": seed, "remix_of": source_id, "external_task_id": None}
    )


# ---- queries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    after: str | None  # a task id
    limit: int
    order: str


def parse_list_query(params: Mapping[str, str]) -> ListQuery:
    raw_limit = params.get("limit")
    limit = DEFAULT_LIST_LIMIT
    if raw_limit is not None and raw_limit != "":
        if not raw_limit.strip().isdecimal() or not 1 <= int(raw_limit) <= MAX_LIST_LIMIT:
            raise _bad("limit", f"must be an integer from 1 to {MAX_LIST_LIMIT}, got {raw_limit!r}")
        limit = int(raw_limit)
    order = params.get("order") or "desc"
    if order not in ORDERS:
        raise _bad("order", f"'{order}' is not allowed; allowed values: asc, desc")
    after = params.get("after") or None
    if after is not None:
        after = task_id_of(after, param="after", missing=_bad)
    return ListQuery(after=after, limit=limit, order=order)


def parse_variant(params: Mapping[str, str]) -> str:
    variant = params.get("variant") or "video"
    if variant not in VARIANTS:
        raise _bad("variant", f"'{variant}' is not allowed; allowed values: {', '.join(VARIANTS)}")
    return variant


# ---- the OpenAPI document of the bodies -----------------------------------------------------

REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


CREATE_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _ref(VideoCreateForm)},
            "application/json": {"schema": _ref(VideoCreateRequest)},
        },
    }
}
REMIX_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _ref(VideoRemixRequest)}},
    }
}
