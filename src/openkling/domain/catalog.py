"""Model catalog: the Kling model names we serve, what each offers and what it costs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .image_catalog import ImageModelEntry, default_image_models
from .request import GenerationRequest
from .vocabulary import (
    ASPECT_RATIOS,
    CAMERA_TYPES,
    CLASSIC_DURATIONS,
    DEFAULT_MODEL,
    MODEL_NAMES,
    MODELS_2026,
    MODES,
    RESOLUTIONS,
    V3_DURATIONS,
)

__all__ = [
    "CAPABILITIES",
    "DEFAULT_MODEL",
    "DEFAULT_PRICES",
    "MODEL_NAMES",
    "MODELS_2026",
    "Catalog",
    "ModelEntry",
    "capability_table",
    "default_catalog",
    "format_credits",
    "milli",
]

# The seed's price table, in credits: (mode, duration seconds) -> credits. Other lengths are
# priced pro rata by the mode's 5-second price.
DEFAULT_PRICES: dict[tuple[str, int], float] = {
    ("std", 5): 10,
    ("pro", 5): 35,
    ("std", 10): 20,
    ("pro", 10): 70,
}

# the boolean switches of a ModelEntry, by the name used in messages and GET /v1/models
CAPABILITIES = (
    "text2video",
    "image2video",
    "end_frame",
    "masks",
    "audio",
    "camera",
    "multi_shot",
    "references",
)


@dataclass(frozen=True)
class ModelEntry:
    """What one model offers. A deployment profile narrows it to what its engine can do."""

    name: str
    text2video: bool = True  # offered at /v1/videos/text2video
    image2video: bool = True  # offered at /v1/videos/image2video (an image input)
    end_frame: bool = True  # image_tail
    masks: bool = True  # static_mask / dynamic_masks
    audio: bool = False  # sound / motion_has_audio
    camera: bool = True  # camera_control
    multi_shot: bool = False  # multi_shot / multi_prompt
    durations: tuple[int, ...] = CLASSIC_DURATIONS
    modes: tuple[str, ...] = MODES
    prices: dict[tuple[str, int], float] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    # Kling's 2026 API (model in the path): "legacy" models are named in model_name at
    # /v1/videos/...; "2026" ones at /text-to-video/{model}, /image-to-video/{model}, ...
    api: str = "legacy"
    endpoints: tuple[str, ...] = ()  # the 2026 endpoints (FAMILIES_2026) offering the model
    resolutions: tuple[str, ...] = ()  # settings.resolution values Kling offers for it
    max_prompt: int = 2500
    multi_shot_default: bool = False  # settings.multi_shot when not given
    audio_settings: tuple[str, ...] = ("off",)  # settings.audio values Kling offers for it
    # reference images: image_list at /v1/videos/multi-image2video (legacy models), refer_image
    # contents at /omni-video (2026 ones)
    references: bool = False
    full_hd_only: tuple[str, ...] = ()  # "audio", "last_frame": Kling makes these at 1080p only

    def price(self, mode: str, duration: float) -> float:
        """Credits for one video: the table's entry, else pro rata by the 5-second price."""
        exact = self.prices.get((mode, int(duration))) if float(duration).is_integer() else None
        if exact is not None:
            return exact
        per_second = self.prices.get((mode, 5), DEFAULT_PRICES.get((mode, 5), 10)) / 5
        return round(per_second * duration, 3)

    def offers(self, capability: str) -> bool:
        return bool(getattr(self, capability))

    def offers_endpoint(self, endpoint: str) -> bool:
        return endpoint in self.endpoints


@dataclass(frozen=True)
class Catalog:
    models: dict[str, ModelEntry]
    # the models of /v1/images/generations, a namespace of their own
    images: dict[str, ImageModelEntry] = field(default_factory=default_image_models)

    def get(self, name: str) -> ModelEntry | None:
        return self.models.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.models)

    def public_models(self) -> list[dict]:
        """What each model offers and costs, for ``GET /v1/models`` (the studio's form): the
        same entries the API validates requests with. 2026 models add ``api``, ``endpoints``,
        ``resolutions`` and ``audio_settings``."""
        return [
            {
                **(
                    {
                        "api": "2026",
                        "endpoints": list(entry.endpoints),
                        "resolutions": list(entry.resolutions),
                        "audio_settings": list(entry.audio_settings),
                        "multi_shot_default": entry.multi_shot_default,
                        "max_prompt": entry.max_prompt,
                    }
                    if entry.api == "2026"
                    else {}
                ),
                "model_name": entry.name,
                **{capability: entry.offers(capability) for capability in CAPABILITIES},
                "camera_types": list(CAMERA_TYPES) if entry.camera else [],
                "modes": list(entry.modes),
                "durations": [str(d) for d in entry.durations],
                "aspect_ratios": list(ASPECT_RATIOS),
                "prices": [
                    {"mode": mode, "duration": str(d), "credits": entry.price(mode, d)}
                    for mode in entry.modes
                    for d in entry.durations
                ],
            }
            for entry in self.models.values()
        ]

    def price_of(self, request: GenerationRequest) -> float:
        """Credits for one task: a video by model, mode and length; pictures by model, each
        one (more with a reference image)."""
        if request.credits is not None:  # a door's own price (an effect scene's)
            return request.credits
        if request.makes_images:
            entry = self.images[request.model_name]
            return entry.price(request.n, reference=request.image is not None)
        return self.models[request.model_name].price(request.mode, request.duration)

    def public_images(self) -> list[dict]:
        """The image models, for ``GET /v1/models`` and the studio's images tab."""
        return [entry.public() for entry in self.images.values()]

    def supporting(self, capability: str, api: str = "legacy") -> tuple[str, ...]:
        """The models of ``api`` that offer ``capability`` (one of ``CAPABILITIES``)."""
        return tuple(
            name
            for name, entry in self.models.items()
            if entry.api == api and entry.offers(capability)
        )

    def with_duration(self, seconds: int, api: str = "legacy") -> tuple[str, ...]:
        return tuple(
            name
            for name, entry in self.models.items()
            if entry.api == api and seconds in entry.durations
        )

    def at_endpoint(self, endpoint: str) -> tuple[str, ...]:
        """The 2026 models offered at ``endpoint`` (text-to-video, image-to-video, omni-video)."""
        return tuple(name for name, e in self.models.items() if e.offers_endpoint(endpoint))


def _default_entry(name: str) -> ModelEntry:
    if name == "kling-v3":
        return ModelEntry(name=name, audio=True, multi_shot=True, durations=V3_DURATIONS)
    if name == "kling-v2-1":  # Kling offers kling-v2-1 for image2video only
        return ModelEntry(name=name, text2video=False)
    # Kling offers multi-image2video on kling-v1-6
    return ModelEntry(name=name, audio=(name == "kling-v2-6"), references=(name == "kling-v1-6"))


# Kling's 2026 models, from its reference pages: what each endpoint takes per model.
_HD = RESOLUTIONS[:2]  # 720p, 1080p
_FIVE_OR_TEN = (5, 10)
_V3 = V3_DURATIONS  # 3 to 15 seconds
_ENTRIES_2026: dict[str, dict[str, Any]] = {
    "kling-2.5-turbo": dict(endpoints=("text-to-video", "image-to-video"), resolutions=_HD),
    "kling-2.6": dict(
        endpoints=("text-to-video", "image-to-video"),
        resolutions=_HD,
        audio=True,
        audio_settings=("native", "off"),
        full_hd_only=("audio", "last_frame"),
    ),
    "kling-3.0": dict(
        endpoints=("text-to-video", "image-to-video"),
        resolutions=RESOLUTIONS,
        durations=_V3,
        audio=True,
        audio_settings=("native", "off"),
        multi_shot=True,
        multi_shot_default=True,
        max_prompt=3072,
    ),
    "kling-3.0-turbo": dict(
        endpoints=("text-to-video", "image-to-video"),
        resolutions=_HD,
        durations=_V3,
        multi_shot=True,
        multi_shot_default=True,
        max_prompt=3072,
    ),
    "kling-3.0-omni": dict(
        endpoints=("omni-video",),
        resolutions=RESOLUTIONS,
        durations=_V3,
        audio=True,
        audio_settings=("native", "original", "off"),
        multi_shot=True,
        multi_shot_default=True,
        max_prompt=3072,
        references=True,
    ),
    "kling-o1": dict(
        endpoints=("omni-video",),
        resolutions=_HD,
        durations=tuple(range(3, 11)),
        audio_settings=("original", "off"),
        references=True,
    ),
}


def _entry_2026(name: str) -> ModelEntry:
    spec: dict[str, Any] = {"durations": _FIVE_OR_TEN, **_ENTRIES_2026[name]}
    # the legacy doors' switches are off: these names are not model_name values there
    return ModelEntry(
        name=name, api="2026", text2video=False, image2video=False, masks=False, camera=False,
        **spec,
    )  # fmt: skip


def default_catalog() -> Catalog:
    legacy = {name: _default_entry(name) for name in MODEL_NAMES}
    return Catalog({**legacy, **{name: _entry_2026(name) for name in MODELS_2026}})


def milli(credits: float) -> int:
    """Credits are stored as integer thousandths so fractional prices stay exact."""
    return round(credits * 1000)


def format_credits(milli_credits: int) -> str:
    """Wire format of a credit amount: "10", "0.5"."""
    whole, frac = divmod(abs(milli_credits), 1000)
    sign = "-" if milli_credits < 0 else ""
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:03d}".rstrip("0")


def _seconds(durations: tuple[int, ...]) -> str:
    if len(durations) > 2 and list(durations) == list(range(durations[0], durations[-1] + 1)):
        return f"{durations[0]}-{durations[-1]}"
    return ", ".join(str(s) for s in durations)


def capability_table(catalog: Catalog) -> str:
    """The catalog as a Markdown table, one row per model (the README's capability table)."""
    columns = ("text2video", "image2video", "end_frame", "masks", "camera", "audio", "multi_shot")
    head = ["model", "durations (s)", "modes", *columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in catalog.models.values():
        if entry.api != "legacy":  # the 2026 models have their own table (docs/kling-api.md)
            continue
        marks = ["yes" if entry.offers(c) else "—" for c in columns]
        row = [f"`{entry.name}`", _seconds(entry.durations), ", ".join(entry.modes), *marks]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
