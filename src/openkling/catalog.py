"""Model catalog: the Kling model names we serve, what each offers and what it costs."""

from __future__ import annotations

from dataclasses import dataclass, field

MODEL_NAMES = (
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
)
DEFAULT_MODEL = "kling-v1"

# The seed's price table, in credits: (mode, duration seconds) -> credits
DEFAULT_PRICES: dict[tuple[str, int], float] = {
    ("std", 5): 10,
    ("pro", 5): 35,
    ("std", 10): 20,
    ("pro", 10): 70,
}


@dataclass(frozen=True)
class ModelEntry:
    name: str
    audio: bool = False
    prices: dict[tuple[str, int], float] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def price(self, mode: str, duration: int) -> float:
        return self.prices[(mode, duration)]


@dataclass(frozen=True)
class Catalog:
    models: dict[str, ModelEntry]

    def get(self, name: str) -> ModelEntry | None:
        return self.models.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.models)

    def public_models(self) -> list[dict]:
        """What each model offers and costs, for ``GET /v1/models`` (the studio's form)."""
        from .contract import ASPECT_RATIOS, CAMERA_TYPES, DURATIONS

        modes = ("std", "pro")
        return [
            {
                "model_name": entry.name,
                "text2video": True,
                "image2video": False,
                "end_frame": False,
                "audio": entry.audio,
                "camera": True,
                "camera_types": list(CAMERA_TYPES),
                "multi_shot": False,
                "modes": list(modes),
                "durations": [str(d) for d in DURATIONS],
                "aspect_ratios": list(ASPECT_RATIOS),
                "prices": [
                    {"mode": mode, "duration": str(d), "credits": entry.price(mode, d)}
                    for mode in modes
                    for d in DURATIONS
                ],
            }
            for entry in self.models.values()
        ]


def default_catalog() -> Catalog:
    return Catalog(
        {name: ModelEntry(name=name, audio=(name == "kling-v2-6")) for name in MODEL_NAMES}
    )


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
