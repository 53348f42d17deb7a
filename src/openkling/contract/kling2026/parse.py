"""Kling's 2026 create requests parsed into a ``GenerationRequest`` and the input images.

The model comes from the path; the body's shape is checked by its pydantic model
(``requests``), then the rules of the model's catalog entry (durations, resolutions, audio,
multi-shot, prompt length), then the contents. Images are read (decoded or fetched) last, once
every other field is known to be good, so a bad field costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...domain.catalog import Catalog, ModelEntry
from ...domain.request import GenerationRequest, ImageInput, Parsed
from ...domain.vocabulary import RESOLUTION_MODES
from ...errors import InvalidParameter
from ...media.images import InputImage, input_key
from ...net.guard import NOTHING_ALLOWED, AllowList
from ...net.image_fetch import ImageLoader
from ..fields import MAX_EXTERNAL_ID, _bad, _string, _url
from .requests import (
    ImageContent,
    ImageToVideoRequest,
    OmniVideoRequest,
    Options,
    PromptContent,
    TextToVideoRequest,
    validate,
)
from .shots import is_multi_shot, parse_prompt_shots

MAX_REFERENCES = 7  # Kling: reference images (with no reference video) at most 7


def model_entry(catalog: Catalog, model: str, endpoint: str) -> ModelEntry:
    """The catalog entry of the model in the path, offered at ``endpoint``; else 1201."""
    entry = catalog.get(model)
    offered = ", ".join(catalog.at_endpoint(endpoint)) or "none"
    if entry is None or entry.api != "2026":
        raise _bad(
            "model", f"'{model[:64]}' is not supported at /{endpoint}; valid values: {offered}"
        )
    if not entry.offers_endpoint(endpoint):
        raise _bad(
            "model",
            f"'{model}' is not offered at /{endpoint} on this deployment; models that are: "
            f"{offered}",
        )
    return entry


def parse_text_to_video(
    body: Any, model: str, catalog: Catalog, *, url_allow: AllowList = NOTHING_ALLOWED
) -> Parsed:
    entry = model_entry(catalog, model, "text-to-video")
    req = validate(TextToVideoRequest, body)
    settings = req.settings
    out = _Common(entry, catalog, settings, req.options, url_allow)
    prompt = _prompt(req.prompt, "prompt", entry, required=True)
    shots = out.shots(prompt, "prompt")
    aspect = (settings.aspect_ratio if settings else None) or "16:9"
    return Parsed(out.request(prompt=prompt, shots=shots, aspect_ratio=aspect))


def parse_image_to_video(
    body: Any,
    model: str,
    catalog: Catalog,
    load: ImageLoader,
    *,
    url_allow: AllowList = NOTHING_ALLOWED,
) -> Parsed:
    entry = model_entry(catalog, model, "image-to-video")
    req = validate(ImageToVideoRequest, body)
    contents = _Contents(req.contents, entry, "image-to-video")
    if contents.first is None:
        raise _bad(
            "contents",
            'a {"type": "first_frame", "url": ...} entry is required (an http(s) URL or raw '
            "base64 of a JPG or PNG)",
        )
    out = _Common(entry, catalog, req.settings, req.options, url_allow)
    out.check_last_frame(contents)
    prompt = _prompt(contents.prompt_text, contents.prompt_field, entry, required=False)
    shots = out.shots(prompt, contents.prompt_field)
    images = contents.load(load)
    return Parsed(
        out.request(prompt=prompt, shots=shots, aspect_ratio=None, **images.fields),
        images.files,
    )


def parse_omni_video(
    body: Any,
    model: str,
    catalog: Catalog,
    load: ImageLoader,
    *,
    url_allow: AllowList = NOTHING_ALLOWED,
) -> Parsed:
    entry = model_entry(catalog, model, "omni-video")
    req = validate(OmniVideoRequest, body)
    contents = _Contents(req.contents, entry, "omni-video")
    out = _Common(entry, catalog, req.settings, req.options, url_allow)
    out.check_last_frame(contents)
    if contents.last is not None and contents.references:
        raise _bad(
            contents.references[0][0],
            "reference images cannot be added when both first_frame and last_frame are given",
        )
    prompt = _prompt(contents.prompt_text, contents.prompt_field, entry, required=True)
    shots = out.shots(prompt, contents.prompt_field)
    settings = req.settings
    aspect = None if contents.first is not None else (settings and settings.aspect_ratio) or "16:9"
    images = contents.load(load)
    return Parsed(
        out.request(prompt=prompt, shots=shots, aspect_ratio=aspect, **images.fields),
        images.files,
    )


def _prompt(text: str | None, where: str, entry: ModelEntry, *, required: bool) -> str:
    value = _string({where: text}, where, max_len=entry.max_prompt) or ""
    if required and not value.strip():
        raise _bad(
            where, f"is required and must not be empty (at most {entry.max_prompt} characters)"
        )
    return value


def _seconds(durations: tuple[int, ...]) -> str:
    if len(durations) > 2 and list(durations) == list(range(durations[0], durations[-1] + 1)):
        return f"{durations[0]} to {durations[-1]}"
    return " or ".join(str(d) for d in durations)


class _Common:
    """settings{} and options{} of one request, checked against the model's entry."""

    def __init__(self, entry, catalog: Catalog, settings, options: Options | None, allow) -> None:
        self.entry = entry
        self.catalog = catalog
        self.duration = self._duration(settings)
        self.resolution = (settings.resolution if settings else None) or "720p"
        self.mode = self._mode()
        self.audio = self._audio((settings.audio if settings else None) or "off")
        multi = settings.multi_shot if settings else None
        self.multi_shot = self._multi_shot(multi)
        self.callback_url, self.external, self.watermark = self._options(options, allow)

    def _duration(self, settings) -> int:
        entry = self.entry
        value = settings.duration if settings else None
        if value is None:
            return 5 if 5 in entry.durations else entry.durations[0]
        if value not in entry.durations:
            others = [
                m.name
                for m in self.catalog.models.values()
                if m.api == "2026"
                and value in m.durations
                and set(m.endpoints) & set(entry.endpoints)
            ]
            hint = f"; models with {value}-second videos: {', '.join(others)}" if others else ""
            raise _bad(
                "settings.duration",
                f"must be {_seconds(entry.durations)} seconds for {entry.name}, got {value}{hint}",
            )
        return value

    def _mode(self) -> str:
        entry, resolution = self.entry, self.resolution
        if resolution not in entry.resolutions:
            raise _bad(
                "settings.resolution",
                f"{entry.name} offers {', '.join(entry.resolutions)}, not '{resolution}'",
            )
        mode = RESOLUTION_MODES.get(resolution)
        if mode is None or mode not in entry.modes:
            made = [r for r in entry.resolutions if RESOLUTION_MODES.get(r) in entry.modes]
            raise _bad(
                "settings.resolution",
                f"this deployment makes {' and '.join(made) or 'no resolution'} with "
                f"{entry.name}, not '{resolution}'",
            )
        return mode

    def _audio(self, audio: str) -> bool:
        entry = self.entry
        if audio not in entry.audio_settings or (audio == "native" and not entry.audio):
            offered = [a for a in entry.audio_settings if a != "native" or entry.audio]
            raise _bad(
                "settings.audio",
                f"{entry.name} offers {', '.join(offered)}, not '{audio}'",
            )
        if audio == "original":  # the sound of a reference video, which is refused anyway
            raise _bad(
                "settings.audio",
                "'original' keeps the sound of a reference video (feature_video), which "
                "openkling does not take; use 'off'" + (" or 'native'" if entry.audio else ""),
            )
        if audio == "native" and "audio" in entry.full_hd_only and self.resolution != "1080p":
            raise _bad(
                "settings.resolution",
                f"{entry.name} makes native audio at 1080p only, got '{self.resolution}'",
            )
        return audio == "native"

    def _multi_shot(self, value: bool | None) -> bool:
        entry = self.entry
        if value and not entry.multi_shot:
            offering = [
                m.name for m in self.catalog.models.values() if m.api == "2026" and m.multi_shot
            ]
            raise _bad(
                "settings.multi_shot",
                f"{entry.name} does not make multi-shot videos; models that do: "
                f"{', '.join(offering)}",
            )
        return entry.multi_shot_default if value is None else value

    def _options(self, options: Options | None, allow: AllowList):
        if options is None:
            return None, None, False
        where = "options.callback_url"
        callback = _string({where: options.callback_url}, where)
        callback_url = _url(callback, allow=allow, field="options.callback_url")
        external = _string(
            {"options.external_task_id": options.external_task_id},
            "options.external_task_id",
            max_len=MAX_EXTERNAL_ID,
        )
        watermark = bool(options.watermark_info and options.watermark_info.enabled)
        return callback_url, external or None, watermark

    def check_last_frame(self, contents: _Contents) -> None:
        entry = self.entry
        if contents.last is None:
            return
        if contents.first is None:
            raise _bad(
                contents.last[0].removesuffix(".url"),
                "a last frame needs a first frame: add a first_frame entry",
            )
        if not entry.end_frame:
            offering = [
                m.name
                for m in self.catalog.models.values()
                if m.api == "2026" and m.end_frame and set(m.endpoints) & set(entry.endpoints)
            ]
            raise _bad(
                contents.last[0].removesuffix(".url"),
                f"{entry.name} takes no last_frame on this deployment; models that do: "
                f"{', '.join(offering) or 'none'}",
            )
        if "last_frame" in entry.full_hd_only and self.resolution != "1080p":
            raise _bad(
                "settings.resolution",
                f"{entry.name} makes first-and-last-frame videos at 1080p only, "
                f"got '{self.resolution}'",
            )

    def shots(self, prompt: str, where: str) -> list:
        if self.multi_shot and self.entry.multi_shot and is_multi_shot(prompt):
            return parse_prompt_shots(prompt, self.duration, where)
        return []

    def request(self, *, prompt: str, shots: list, aspect_ratio: str | None, **images):
        # with shots, `prompt` stays the caller's text: each shot renders its own words
        return GenerationRequest(
            model_name=self.entry.name,
            prompt=prompt,
            duration=self.duration,
            aspect_ratio=aspect_ratio,
            mode=self.mode,
            sound=self.audio,
            callback_url=self.callback_url,
            external_task_id=self.external,
            shots=shots,
            watermark=self.watermark,
            wire={
                "api": "2026",
                "resolution": self.resolution,
                "audio": "native" if self.audio else "off",
                "multi_shot": "true" if self.multi_shot else "false",
            },
            **images,
        )


@dataclass
class _Images:
    fields: dict[str, Any]
    files: dict[str, InputImage]


class _Contents:
    """The contents[] of a request: one prompt, the frames and reference images, checked."""

    REFUSED = {
        "voice": "openkling has no voice library",
        "element": "openkling has no element library",
        "feature_video": "openkling takes no reference videos",
        "base_video": "openkling does not edit videos",
    }

    def __init__(self, contents: list, entry: ModelEntry, endpoint: str) -> None:
        self.prompt_text: str | None = None
        self.prompt_field = "contents[].text"
        self.first: tuple[str, str] | None = None  # (field, url)
        self.last: tuple[str, str] | None = None
        self.references: list[tuple[str, str, str]] = []  # (field, url, id)
        ids: set[str] = set()
        for i, item in enumerate(contents):
            where = f"contents[{i}]"
            if item.type in self.REFUSED:
                raise _bad(
                    f"{where}.type",
                    f"'{item.type}' is not supported: {self.REFUSED[item.type]}; "
                    f"/{endpoint} takes {self._takes(endpoint)}",
                )
            if isinstance(item, PromptContent):
                if self.prompt_text is not None:
                    raise _bad(f"{where}.type", "only one prompt entry is allowed")
                self.prompt_text, self.prompt_field = item.text, f"{where}.text"
                continue
            assert isinstance(item, ImageContent)
            if item.id is not None:
                if item.id in ids:
                    raise _bad(f"{where}.id", f"'{item.id}' is used twice; ids must be distinct")
                ids.add(item.id)
            if item.type == "refer_image":
                if endpoint != "omni-video":
                    raise _bad(
                        f"{where}.type",
                        f"'refer_image' is taken at /omni-video; /{endpoint} takes "
                        f"{self._takes(endpoint)}",
                    )
                number = len(self.references) + 1
                self.references.append((f"{where}.url", item.url, item.id or f"image_{number}"))
                continue
            slot = "first" if item.type == "first_frame" else "last"
            if getattr(self, slot) is not None:
                raise _bad(f"{where}.type", f"only one {item.type} entry is allowed")
            setattr(self, slot, (f"{where}.url", item.url))
        if len(self.references) > MAX_REFERENCES:
            raise _bad(
                "contents",
                f"at most {MAX_REFERENCES} refer_image entries, got {len(self.references)}",
            )
        if self.references and not entry.references:
            first = self.references[0][0].removesuffix(".url")
            raise _bad(first, f"{entry.name} takes no refer_image")

    @staticmethod
    def _takes(endpoint: str) -> str:
        if endpoint == "omni-video":
            return "prompt, first_frame, last_frame and refer_image"
        return "prompt, first_frame and last_frame"

    def load(self, load: ImageLoader) -> _Images:
        files: dict[str, InputImage] = {}

        def stored(stem: str, where: str, src: str) -> ImageInput:
            image = load(where, src)
            key = input_key(stem, image)
            files[key] = image
            return ImageInput(key=key, width=image.width, height=image.height)

        fields: dict[str, Any] = {}
        if self.first is not None:
            fields["image"] = stored("first_frame", *self.first)
        if self.last is not None:
            fields["image_tail"] = stored("last_frame", *self.last)
        if self.references:
            fields["references"] = [
                stored(f"refer_{n}", where, src)
                for n, (where, src, _) in enumerate(self.references, start=1)
            ]
        return _Images(fields, files)


__all__ = [
    "ImageLoader",
    "InvalidParameter",
    "model_entry",
    "parse_image_to_video",
    "parse_omni_video",
    "parse_text_to_video",
]
