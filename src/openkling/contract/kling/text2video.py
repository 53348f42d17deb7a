"""Kling's text2video request: one model that reads the body with Kling's rules and documents
it, and the ``GenerationRequest`` it makes.

Fields are declared in the order their rules are checked: the model first (the rules after it
depend on what it offers), then each field; the first field at fault is the one reported.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core.core_schema import ValidationInfo

from ...domain.catalog import Catalog, ModelEntry
from ...domain.request import CameraControl, GenerationRequest, Shot
from ...domain.vocabulary import ASPECT_RATIOS
from ...errors import InvalidParameter
from ...net.guard import NOTHING_ALLOWED, AllowList
from .. import fields
from ..fields import MAX_PROMPT, _bad, _type_name
from ..model import Reads, RequestModel, refusal, validate
from . import multishot
from .request import (
    CALLBACK_DOC,
    DURATION_DOC,
    EXTERNAL_DOC,
    SEED_DOC,
    SOUND_DOC,
    WATERMARK_DOC,
    CallbackUrl,
    Camera,
    CfgScale,
    Duration,
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
from .unoffered import TEXT2VIDEO as UNOFFERED
from .unoffered import unoffered


def _offers_text2video(name: str, catalog: Catalog) -> ModelEntry:
    entry = catalog.get(name)
    if entry is not None and entry.text2video:
        return entry
    offering = ", ".join(catalog.supporting("text2video"))
    if entry is None:
        raise _bad("model_name", f"'{name}' is not supported; valid values: {offering}")
    raise _bad("model_name", f"'{name}' does not offer text2video; models that do: {offering}")


def _multi_shot(value: Any, field: str, info: ValidationInfo) -> bool:
    return multishot.multi_shot(value, entry_of(info), context_of(info).catalog)


def _shot_type(value: Any, field: str, info: ValidationInfo) -> str | None:
    return multishot.shot_type(value, info.data.get("multi_shot") is True)


def _shots(value: Any, field: str, info: ValidationInfo) -> list[Shot]:
    """The shots: the caller's (customize) or the prompt split (intelligence); [] for one."""
    duration = info.data.get("duration")
    if not isinstance(duration, int):  # refused already: the shots cannot be judged
        return []
    return multishot.shots(info.data.get("shot_type"), value, info.data.get("prompt"), duration)


def _audio(value: Any, field: str, info: ValidationInfo) -> bool:
    """``motion_has_audio``, the same switch as ``sound``; either needs a model with audio."""
    motion_has_audio = fields.flag(value, field)
    sound = info.data.get("sound") is True
    entry = entry_of(info)
    if (sound or motion_has_audio) and entry is not None and not entry.audio:
        catalog = context_of(info).catalog
        with_audio = [m.name for m in catalog.models.values() if m.audio]
        raise _bad(
            "sound" if sound else "motion_has_audio",
            f"model '{entry.name}' does not generate audio; models with audio: "
            f"{', '.join(with_audio) or 'none'}",
        )
    return motion_has_audio


def _aspect_ratio(value: Any, field: str, info: ValidationInfo) -> str:
    return str(fields._choice(fields.text(value, field), field, ASPECT_RATIOS, "16:9"))


class Text2VideoRequest(RequestModel):
    """The body of ``POST /v1/videos/text2video``. Fields Kling does not know are ignored."""

    wire_required = ("prompt",)  # customised multi-shot requests may leave it out

    model: ModelAlias = None
    model_name: Annotated[str, model_rule(_offers_text2video)] = model_field()
    voice_list: SkipJsonSchema[Annotated[None, unoffered(UNOFFERED["voice_list"])]] = None
    prompt: Annotated[str | None, text(MAX_PROMPT, min_len=1)] = None
    duration: Duration = Field(None, validate_default=True, description=DURATION_DOC)
    multi_shot: Annotated[bool, Reads(_multi_shot, wire=bool)] = Field(
        False, description="models with multi-shot only (kling-v3)"
    )
    shot_type: Annotated[
        str | None,
        Reads(_shot_type, wire=Literal[multishot.SHOT_TYPES]),
    ] = Field(None, description="required with multi_shot: true")
    multi_prompt: Annotated[
        list[Shot],
        Reads(
            _shots,
            wire=Annotated[list[multishot.ShotPrompt], Field(max_length=multishot.MAX_SHOTS)],
        ),
    ] = Field(
        None,
        validate_default=True,
        description="with shot_type customize; durations add up to duration",
    )
    negative_prompt: Annotated[str | None, text(MAX_PROMPT)] = Field(
        None, json_schema_extra={"default": ""}
    )
    aspect_ratio: Annotated[str, Reads(_aspect_ratio, wire=Literal[ASPECT_RATIOS])] = "16:9"
    mode: Mode = Field("std", validate_default=True)
    cfg_scale: CfgScale = 0.5
    sound: Sound = Field(False, description=SOUND_DOC, json_schema_extra={"default": "off"})
    motion_has_audio: Annotated[bool, Reads(_audio, wire=bool)] = Field(
        False, validate_default=True, description="the same switch as sound"
    )
    external_task_id: ExternalTaskId = Field(None, description=EXTERNAL_DOC)
    camera_control: Camera = None
    callback_url: CallbackUrl = Field(None, description=CALLBACK_DOC)
    watermark_info: Watermark = Field(False, description=WATERMARK_DOC)
    seed: Seed = Field(None, description=SEED_DOC)

    @model_validator(mode="after")
    def _prompt_given(self) -> Text2VideoRequest:
        if not self.prompt_text.strip():
            error = _bad("prompt", "is required and must not be empty (at most 2500 characters)")
            raise refusal(error)
        return self

    @property
    def prompt_text(self) -> str:
        """The prompt; customised shots stand in for a missing one (Kling ignores it then)."""
        if self.shot_type == "customize" and (self.prompt is None or not self.prompt.strip()):
            return " ".join(shot.prompt for shot in self.multi_prompt)
        return self.prompt or ""

    def generation_request(self) -> GenerationRequest:
        return GenerationRequest(
            model_name=self.model_name,
            prompt=self.prompt_text,
            negative_prompt=self.negative_prompt or "",
            duration=self.duration,
            aspect_ratio=self.aspect_ratio,
            mode=self.mode,
            cfg_scale=self.cfg_scale,
            camera_control=self.camera_control,
            sound=self.sound or self.motion_has_audio,
            callback_url=self.callback_url,
            external_task_id=self.external_task_id,
            shots=self.multi_prompt,
            watermark=self.watermark_info,
            seed=self.seed,
        )


def parse_text2video(
    body: Any, catalog: Catalog, *, url_allow: AllowList = NOTHING_ALLOWED
) -> GenerationRequest:
    """Validate a text2video request body with Kling's rules; raise ``InvalidParameter``.

    ``url_allow`` (the ``OPENKLING_URL_ALLOW`` setting) admits callback hosts the URL guard
    would otherwise refuse.
    """
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")
    model = validate(Text2VideoRequest, body, KlingContext(catalog, url_allow))
    return model.generation_request()


__all__ = ["CameraControl", "Text2VideoRequest", "parse_text2video"]
