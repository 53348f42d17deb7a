"""Load a task's stored input images and fit them to the render canvas."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..errors import EngineError
from ..request import GenerationRequest, ImageInput
from ..storage.base import Storage


@dataclass
class RenderInputs:
    image: np.ndarray | None = None
    image_tail: np.ndarray | None = None
    static_mask: np.ndarray | None = None
    dynamic_masks: list[tuple[np.ndarray, list[tuple[float, float]]]] = field(default_factory=list)


def _fit_box(src_w: int, src_h: int, dst_w: int, dst_h: int) -> tuple[float, float, float]:
    """Scale and offsets that cover ``dst`` with ``src`` (resize, then centre crop)."""
    scale = max(dst_w / src_w, dst_h / src_h)
    return scale, (src_w * scale - dst_w) / 2, (src_h * scale - dst_h) / 2


def _open(storage: Storage, image: ImageInput) -> Image.Image:
    try:
        return Image.open(io.BytesIO(storage.read(image.key)))
    except FileNotFoundError:
        raise EngineError("an input image of this task is no longer in storage") from None


def fit(picture: Image.Image, width: int, height: int, *, mask: bool = False) -> np.ndarray:
    """``picture`` resized to cover ``width`` x ``height`` and centre-cropped to it."""
    scale, dx, dy = _fit_box(picture.width, picture.height, width, height)
    size = (max(width, round(picture.width * scale)), max(height, round(picture.height * scale)))
    mode = "L" if mask else "RGB"
    resample = Image.Resampling.NEAREST if mask else Image.Resampling.LANCZOS
    resized = picture.convert(mode).resize(size, resample)
    left, top = round(dx), round(dy)
    array = np.asarray(resized.crop((left, top, left + width, top + height)))
    return array > 127 if mask else np.ascontiguousarray(array, dtype=np.uint8)


def load_inputs(
    request: GenerationRequest, storage: Storage, width: int, height: int
) -> RenderInputs:
    """The request's images from storage, fitted to a ``width`` x ``height`` canvas."""
    inputs = RenderInputs()
    if request.image is not None:
        inputs.image = fit(_open(storage, request.image), width, height)
    if request.image_tail is not None:
        inputs.image_tail = fit(_open(storage, request.image_tail), width, height)
    if request.static_mask is not None:
        inputs.static_mask = fit(_open(storage, request.static_mask), width, height, mask=True)
    for dynamic in request.dynamic_masks:
        scale, dx, dy = _fit_box(dynamic.mask.width, dynamic.mask.height, width, height)
        region = fit(_open(storage, dynamic.mask), width, height, mask=True)
        path = [(p.x * scale - dx, p.y * scale - dy) for p in dynamic.trajectory]
        inputs.dynamic_masks.append((region, path))
    return inputs
