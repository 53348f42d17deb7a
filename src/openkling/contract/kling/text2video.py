"""Kling's text2video request: the body's rules, parsed into a GenerationRequest."""

from __future__ import annotations

from typing import Any

from ...domain.catalog import Catalog
from ...domain.request import GenerationRequest
from ...domain.vocabulary import ASPECT_RATIOS, DEFAULT_MODEL
from ...errors import InvalidParameter
from ...net.guard import NOTHING_ALLOWED, AllowList
from ..fields import (
    MAX_EXTERNAL_ID,
    MAX_PROMPT,
    _bad,
    _bool,
    _camera,
    _cfg_scale,
    _choice,
    _duration,
    _mode,
    _seed,
    _sound,
    _string,
    _type_name,
    _url,
    _watermark,
)
from .multishot import parse_shots
from .unoffered import TEXT2VIDEO as TEXT2VIDEO_UNOFFERED
from .unoffered import refuse_unoffered


def parse_text2video(
    body: Any, catalog: Catalog, *, url_allow: AllowList = NOTHING_ALLOWED
) -> GenerationRequest:
    """Validate a text2video request body with Kling's rules; raise ``InvalidParameter``.

    ``url_allow`` (the ``OPENKLING_URL_ALLOW`` setting) admits callback hosts the URL guard
    would otherwise refuse.
    """
    if not isinstance(body, dict):
        raise InvalidParameter(f"request body must be a JSON object, got {_type_name(body)}")

    model_field = "model_name" if body.get("model_name") is not None else "model"
    model_name = _string(body, model_field) or DEFAULT_MODEL
    entry = catalog.get(model_name)
    if entry is None:
        raise _bad(
            "model_name",
            f"'{model_name}' is not supported; valid values: "
            f"{', '.join(catalog.supporting('text2video'))}",
        )

    if not entry.text2video:
        raise _bad(
            "model_name",
            f"'{model_name}' does not offer text2video; models that do: "
            f"{', '.join(catalog.supporting('text2video'))}",
        )

    refuse_unoffered(body, TEXT2VIDEO_UNOFFERED)
    prompt = _string(body, "prompt", max_len=MAX_PROMPT)
    duration = _duration(body, entry, catalog)
    shots = parse_shots(body, entry, catalog, prompt, duration)
    customized = bool(shots) and body.get("shot_type") == "customize"
    if customized and (prompt is None or not prompt.strip()):
        prompt = " ".join(shot.prompt for shot in shots)  # Kling ignores `prompt` here
    if prompt is None or not prompt.strip():
        raise _bad("prompt", "is required and must not be empty (at most 2500 characters)")

    negative_prompt = _string(body, "negative_prompt", max_len=MAX_PROMPT) or ""
    aspect_ratio = _choice(_string(body, "aspect_ratio"), "aspect_ratio", ASPECT_RATIOS, "16:9")
    mode = _mode(body, entry, catalog)
    cfg_scale = _cfg_scale(body)

    sound, motion_has_audio = _sound(body), _bool(body, "motion_has_audio")
    if (sound or motion_has_audio) and not entry.audio:
        with_audio = [m.name for m in catalog.models.values() if m.audio]
        raise _bad(
            "sound" if sound else "motion_has_audio",
            f"model '{model_name}' does not generate audio; models with audio: "
            f"{', '.join(with_audio) or 'none'}",
        )
    external = _string(body, "external_task_id", max_len=MAX_EXTERNAL_ID)

    return GenerationRequest(
        model_name=model_name,
        prompt=prompt,
        negative_prompt=negative_prompt,
        duration=duration,
        aspect_ratio=aspect_ratio,
        mode=mode,
        cfg_scale=cfg_scale,
        camera_control=_camera(body.get("camera_control")),
        sound=sound or motion_has_audio,
        callback_url=_url(_string(body, "callback_url"), allow=url_allow),
        external_task_id=external or None,
        shots=shots,
        watermark=_watermark(body),
        seed=_seed(body),
    )
