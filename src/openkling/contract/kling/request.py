"""The field types Kling's request models share: each reads one wire field with Kling's rules
(``contract/fields.py``) and documents it (``contract/model.py`` explains the pattern).

Rules that need the deployment read ``KlingContext`` (the catalog, the URL allow-list) from the
validation context, and the model entry of the request's ``model_name`` (read first) from the
fields read so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from pydantic_core.core_schema import ValidationInfo

from ...domain.catalog import Catalog, ModelEntry
from ...domain.request import CameraControl
from ...domain.vocabulary import DEFAULT_MODEL, MODE_ALIASES, MODEL_NAMES
from ...net.guard import NOTHING_ALLOWED, AllowList
from .. import fields
from ..fields import MAX_EXTERNAL_ID, MAX_PROMPT, MAX_SEED, MAX_URL
from ..model import Reads


@dataclass(frozen=True)
class KlingContext:
    """What Kling's rules need beyond the body: the deployment's catalog and the hosts
    ``OPENKLING_URL_ALLOW`` admits for callbacks and image URLs."""

    catalog: Catalog
    url_allow: AllowList = NOTHING_ALLOWED


def context_of(info: ValidationInfo) -> KlingContext:
    context = info.context
    assert isinstance(context, KlingContext), "Kling models are validated with a KlingContext"
    return context


def entry_of(info: ValidationInfo) -> ModelEntry | None:
    """The catalog entry of the request's model, once ``model_name`` was read without fault."""
    name = info.data.get("model_name")
    return context_of(info).catalog.get(name) if isinstance(name, str) else None


# ---- the model ------------------------------------------------------------------------------

# (name, catalog) -> the entry serving this door, or InvalidParameter naming model_name
ModelCheck = Callable[[str, Catalog], ModelEntry]


def model_rule(check: ModelCheck) -> Reads:
    """``model_name`` (or the seed's ``model``, read just before it), checked by the door."""

    def read(value: Any, field: str, info: ValidationInfo) -> str:
        if value is None:
            value, field = info.data.get("model"), "model"
        name = fields.text(value, field) or DEFAULT_MODEL
        check(name, context_of(info).catalog)
        return name

    return Reads(read, wire=Literal[MODEL_NAMES])


def _raw(value: Any, field: str, info: ValidationInfo) -> Any:
    return value


# the seed's spelling of model_name: read by model_name's rule, not documented
ModelAlias = SkipJsonSchema[Annotated[Any, Reads(_raw, wire=str)]]

MODEL_DOC = "the deployment's catalog decides which are offered (GET /v1/models)"


def model_field() -> Any:
    return Field(
        None,
        validate_default=True,
        description=MODEL_DOC,
        json_schema_extra={"default": DEFAULT_MODEL},
    )


# ---- shared fields -------------------------------------------------------------------------


def text(max_len: int, *, min_len: int = 0) -> Reads:
    """A string field of at most ``max_len`` characters."""
    wire = Annotated[str, Field(max_length=max_len, min_length=min_len or None)]
    return Reads(lambda value, field, info: fields.text(value, field, max_len=max_len), wire=wire)


def _duration(value: Any, field: str, info: ValidationInfo) -> int:
    return fields.duration(value, entry_of(info), context_of(info).catalog)


Duration = Annotated[int, Reads(_duration, wire=str | int)]
DURATION_DOC = 'seconds: "5" or "10" (kling-v3: "3" to "15"); numbers too'


def _mode(value: Any, field: str, info: ValidationInfo) -> str:
    return fields.mode(value, entry_of(info), context_of(info).catalog)


Mode = Annotated[str, Reads(_mode, wire=Literal[tuple(MODE_ALIASES)])]

CfgScale = Annotated[
    float,
    Reads(
        lambda value, field, info: fields.cfg_scale(value), wire=Annotated[float, Field(ge=0, le=1)]
    ),
]

Camera = Annotated[
    CameraControl | None,
    Reads(lambda value, field, info: fields._camera(value), wire=CameraControl),
]

Sound = Annotated[
    bool, Reads(lambda value, field, info: fields.sound(value), wire=Literal["on", "off"])
]
SOUND_DOC = 'models with audio only; true and false are read as "on" and "off"'

Flag = Annotated[bool, Reads(lambda value, field, info: fields.flag(value, field), wire=bool)]


def _callback(value: Any, field: str, info: ValidationInfo) -> str | None:
    return fields._url(fields.text(value, field), allow=context_of(info).url_allow, field=field)


CallbackUrl = Annotated[
    str | None, Reads(_callback, wire=Annotated[str, Field(max_length=MAX_URL)])
]
CALLBACK_DOC = "http(s) URL on a public host"


def _external(value: Any, field: str, info: ValidationInfo) -> str | None:
    return fields.text(value, field, max_len=MAX_EXTERNAL_ID) or None


ExternalTaskId = Annotated[
    str | None, Reads(_external, wire=Annotated[str, Field(max_length=MAX_EXTERNAL_ID)])
]
EXTERNAL_DOC = "unique per account"


class WatermarkInfo(BaseModel):
    """The wire shape of ``watermark_info``."""

    model_config = ConfigDict(title="WatermarkInfo")
    enabled: bool


Watermark = Annotated[
    bool, Reads(lambda value, field, info: fields.watermark(value), wire=WatermarkInfo)
]
WATERMARK_DOC = "enabled: each video also gets a watermark_url"

Seed = Annotated[
    int | None,
    Reads(
        lambda value, field, info: fields.seed(value), wire=Annotated[int, Field(ge=0, le=MAX_SEED)]
    ),
]
SEED_DOC = "beyond Kling: a fixed seed makes the same video again"


__all__ = [
    "CALLBACK_DOC",
    "DURATION_DOC",
    "EXTERNAL_DOC",
    "MAX_PROMPT",
    "SEED_DOC",
    "SOUND_DOC",
    "WATERMARK_DOC",
    "CallbackUrl",
    "Camera",
    "CfgScale",
    "Duration",
    "ExternalTaskId",
    "Flag",
    "KlingContext",
    "Mode",
    "ModelAlias",
    "Seed",
    "Sound",
    "Watermark",
    "WatermarkInfo",
    "context_of",
    "entry_of",
    "model_field",
    "model_rule",
    "text",
]
