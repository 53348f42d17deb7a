"""Load a task's stored input images and fit them to the render canvas."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..domain.request import GenerationRequest, ImageInput
from ..errors import EngineError
from ..media.images import fit, to_mask, to_rgb
from ..storage.base import Storage


@dataclass
class RenderInputs:
    image: np.ndarray | None = None
    image_tail: np.ndarray | None = None
    static_mask: np.ndarray | None = None
    dynamic_masks: list[tuple[np.ndarray, list[tuple[float, float]]]] = field(default_factory=list)
    references: list[np.ndarray] = field(default_factory=list)


def _fit_box(src_w: int, src_h: int, dst_w: int, dst_h: int) -> tuple[float, float, float]:
    """Scale and offsets that cover ``dst`` with ``src`` (resize, then centre crop)."""
    scale = max(dst_w / src_w, dst_h / src_h)
    return scale, (src_w * scale - dst_w) / 2, (src_h * scale - dst_h) / 2


def _read(storage: Storage, image: ImageInput) -> bytes:
    try:
        return storage.read(image.key)
    except FileNotFoundError:
        raise EngineError("an input image of this task is no longer in storage") from None


def _picture(storage: Storage, image: ImageInput, width: int, height: int) -> np.ndarray:
    """An input image decoded as the API checked it (EXIF applied), fitted to the canvas."""
    return fit(to_rgb(_read(storage, image)), width, height)


def _mask(storage: Storage, image: ImageInput, width: int, height: int) -> np.ndarray:
    return fit(to_mask(_read(storage, image)), width, height)


def under_view(picture: np.ndarray, view: np.ndarray, canvas_w: int, canvas_h: int) -> np.ndarray:
    """A canvas on which the camera's first view (``view``: output pixel -> canvas pixel, the
    picture being output-sized) shows exactly ``picture``; beyond it, the picture mirrored."""
    return cv2.warpPerspective(
        picture,
        view,  # maps the picture's pixels into the canvas
        (canvas_w, canvas_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def load_inputs(
    request: GenerationRequest,
    storage: Storage,
    width: int,
    height: int,
    *,
    first_view: tuple[int, int, np.ndarray] | None = None,
) -> RenderInputs:
    """The request's images from storage, fitted to a ``width`` x ``height`` canvas.

    ``first_view`` (output width, height, and the camera's map of the first frame): the first
    image is placed where the moving camera starts, so the video's first frame is the image."""
    inputs = RenderInputs()
    if request.image is not None and first_view is not None:
        out_w, out_h, view = first_view
        picture = fit(to_rgb(_read(storage, request.image)), out_w, out_h)
        inputs.image = under_view(picture, view, width, height)
    elif request.image is not None:
        inputs.image = _picture(storage, request.image, width, height)
    if request.image_tail is not None:
        inputs.image_tail = _picture(storage, request.image_tail, width, height)
    if request.static_mask is not None:
        inputs.static_mask = _mask(storage, request.static_mask, width, height)
    for dynamic in request.dynamic_masks:
        scale, dx, dy = _fit_box(dynamic.mask.width, dynamic.mask.height, width, height)
        region = _mask(storage, dynamic.mask, width, height)
        path = [(p.x * scale - dx, p.y * scale - dy) for p in dynamic.trajectory]
        inputs.dynamic_masks.append((region, path))
    # reference images keep their own size: an engine decides how it uses them
    inputs.references = [to_rgb(_read(storage, ref)) for ref in request.references]
    return inputs
