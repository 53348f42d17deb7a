"""Watermarks: a visible mark (text or image) stamped in one corner of a copy of a video."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..media.encode import i420_patch_to_rgb, rewrite_video, rgb_patch_into_i420

Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
CORNERS: tuple[Corner, ...] = ("top-left", "top-right", "bottom-left", "bottom-right")

TEXT_HEIGHT = 1 / 12  # the text mark's height, as a share of the frame's short side
IMAGE_WIDTH = 1 / 5  # the image mark's largest width, as a share of the frame's width
MARGIN = 1 / 40  # gap between the mark and the frame's edges, share of the short side


@dataclass(frozen=True)
class Region:
    """Where the mark sits in the frame, in pixels: columns [x, x + w), rows [y, y + h)."""

    x: int
    y: int
    w: int
    h: int

    def contains(self, row: int, col: int) -> bool:
        return self.y <= row < self.y + self.h and self.x <= col < self.x + self.w


@dataclass(frozen=True)
class Mark:
    """A ready-to-stamp mark for one frame size: its colours, its opacity, its place."""

    rgb: np.ndarray  # h x w x 3 float32
    alpha: np.ndarray  # h x w x 1 float32 in [0, 1]
    region: Region

    def blend(self, patch: np.ndarray) -> np.ndarray:
        """The region's RGB pixels (h x w x 3 uint8) with the mark over them."""
        mixed = patch.astype(np.float32) * (1.0 - self.alpha) + self.rgb * self.alpha
        return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)

    def stamp(self, frame: np.ndarray) -> np.ndarray:
        """An RGB frame with the mark blended in; pixels outside ``region`` stay as they are."""
        r = self.region
        out = frame.copy()
        out[r.y : r.y + r.h, r.x : r.x + r.w] = self.blend(out[r.y : r.y + r.h, r.x : r.x + r.w])
        return out

    def stamp_i420(self, i420: np.ndarray) -> None:
        """Blend the mark into a planar I420 frame in place; only ``region`` is written."""
        r = self.region
        patch = i420_patch_to_rgb(i420, r.x, r.y, r.w, r.h)
        rgb_patch_into_i420(i420, self.blend(patch), r.x, r.y)


def _text_image(text: str, height: int) -> Image.Image:
    """White text on a translucent dark plate, ``height`` pixels tall (RGBA)."""
    font = ImageFont.load_default(size=max(6, round(height * 0.7)))
    left, top, right, bottom = font.getbbox(text)
    pad = max(2, height // 6)
    width = (right - left) + 2 * pad
    plate = Image.new("RGBA", (round(width), height), (0, 0, 0, 110))
    draw = ImageDraw.Draw(plate)
    y = (height - (bottom - top)) // 2 - top
    draw.text((pad - left, y), text, font=font, fill=(255, 255, 255, 235))
    return plate


@lru_cache(maxsize=8)
def _image_file(path: str) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGBA")


def make_mark(
    width: int,
    height: int,
    *,
    text: str = "openkling",
    image: Path | str | None = None,
    corner: Corner = "bottom-right",
) -> Mark:
    """The mark for a ``width`` x ``height`` video: ``image`` (a PNG or JPEG, scaled to at most
    a fifth of the width) when given, else ``text``; placed in ``corner`` with a small margin."""
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {', '.join(CORNERS)}; got {corner!r}")
    short = min(width, height)
    margin = max(2, round(short * MARGIN))
    room_w, room_h = width - 2 * margin, height - 2 * margin
    if image is not None:
        img = _image_file(str(image))
        scale = min(1.0, width * IMAGE_WIDTH / img.width, height * 0.5 / img.height)
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(size, Image.Resampling.LANCZOS) if size != img.size else img
    else:
        img = _text_image(text or "openkling", max(8, round(short * TEXT_HEIGHT)))
    if img.width > room_w or img.height > room_h:  # a long text on a narrow frame: shrink
        scale = min(room_w / img.width, room_h / img.height)
        img = img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale))))
    if img.width % 2 or img.height % 2:  # even size at an even place: whole chroma samples
        even = Image.new("RGBA", (img.width + img.width % 2, img.height + img.height % 2))
        even.paste(img, (0, 0))
        img = even
    x = margin if corner.endswith("left") else width - margin - img.width
    y = margin if corner.startswith("top") else height - margin - img.height
    x, y = max(0, x - x % 2), max(0, y - y % 2)
    pixels = np.asarray(img, dtype=np.float32)
    return Mark(
        rgb=pixels[:, :, :3],
        alpha=pixels[:, :, 3:4] / 255.0,
        region=Region(x=x, y=y, w=img.width, h=img.height),
    )


def watermark_video(
    src: Path | str,
    dst: Path | str,
    mark_for: Callable[[int, int], Mark],
    *,
    preset: str = "veryfast",
) -> Region:
    """Write ``dst``: ``src`` with the mark ``mark_for(width, height)`` on every frame, audio
    copied untouched. Returns where the mark sits."""
    placed: list[Mark] = []

    def edit(i420: np.ndarray) -> None:
        if not placed:
            placed.append(mark_for(i420.shape[1], i420.shape[0] * 2 // 3))
        placed[0].stamp_i420(i420)

    rewrite_video(src, dst, edit, preset=preset)
    return placed[0].region
