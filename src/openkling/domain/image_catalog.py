"""The image models of /v1/images/generations: their sizes and what each picture costs.

Kling's image model names are a namespace of their own (``kling-v2-new`` makes no videos), so
they have their own entries. Prices are in credits per picture: Kling's image price page
gives units for Kling Image 3.0 (8 a picture, at 1K and 2K) and Kling Image 2.1 (4 a picture
from text, 8 with a reference image); for the older names it gives none, and openkling prices
them as Image 2.1.
"""

from __future__ import annotations

from dataclasses import dataclass

from .vocabulary import IMAGE_ASPECT_RATIOS, IMAGE_MODEL_NAMES, IMAGE_RESOLUTIONS

# (resolution, aspect ratio) -> width x height: exactly the ratio, both sides multiples of 16
# (what diffusion models need); "1k" is about one megapixel, "2k" four times that.
IMAGE_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "1k": {
        "16:9": (1280, 720),
        "9:16": (720, 1280),
        "1:1": (1024, 1024),
        "4:3": (1152, 864),
        "3:4": (864, 1152),
        "3:2": (1248, 832),
        "2:3": (832, 1248),
        "21:9": (1344, 576),
    },
}
IMAGE_SIZES["2k"] = {ratio: (w * 2, h * 2) for ratio, (w, h) in IMAGE_SIZES["1k"].items()}

# Kling's price page, in units (credits) per picture: (from text, with a reference image)
KLING_IMAGE_PRICES: dict[str, tuple[float, float]] = {
    "kling-v3": (8, 8),
    "kling-v2-1": (4, 8),
}
DEFAULT_IMAGE_PRICE = (4.0, 8.0)  # openkling's price for the names the page does not list


def exact_ratio(width: int, height: int, ratio: str) -> bool:
    """Whether ``width`` x ``height`` is exactly the aspect ratio ``ratio`` ("16:9")."""
    rw, rh = (int(x) for x in ratio.split(":"))
    return width * rh == height * rw


@dataclass(frozen=True)
class ImageModelEntry:
    """What one image model offers and costs. A deployment profile may change its prices."""

    name: str
    text_price: float  # credits per picture made from text alone
    reference_price: float  # credits per picture made with a reference image
    reference: bool = True  # takes a reference image (its engine can honour one)

    def price(self, n: int, *, reference: bool) -> float:
        """Credits for a task of ``n`` pictures."""
        return n * (self.reference_price if reference else self.text_price)

    def public(self) -> dict:
        """This entry for ``GET /v1/models`` (its ``images`` list) and the studio's images tab."""
        return {
            "model_name": self.name,
            "reference_image": self.reference,
            "resolutions": list(IMAGE_RESOLUTIONS),
            "aspect_ratios": list(IMAGE_ASPECT_RATIOS),
            "n": {"min": 1, "max": 9},
            "prices": [
                {"input": "text", "credits_per_image": self.text_price},
                {"input": "image", "credits_per_image": self.reference_price},
            ],
        }


def default_image_models() -> dict[str, ImageModelEntry]:
    return {
        name: ImageModelEntry(name, *KLING_IMAGE_PRICES.get(name, DEFAULT_IMAGE_PRICE))
        for name in IMAGE_MODEL_NAMES
    }
