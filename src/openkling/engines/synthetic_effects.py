"""The synthetic engine's effect looks: effect scenes realised on the CPU with no weights,
each one measurably what it says.

- ``still``: the picture holds (the scene's camera path is the motion, e.g. zoom_out);
- ``night``: the picture drifts while its light falls and turns blue (day_to_night);
- ``orbit``: a full 360-degree turn, the picture wrapped round a cylinder (bullet_time_360);
- ``meet`` / ``heart``: a stitched pair's halves move together and overlap in the middle
  (hug_pro, kiss_pro); ``heart`` draws a heart between them (heart_gesture_pro).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace

import cv2
import numpy as np

from ..errors import GenerationCancelled
from .base import RenderRequest, StepCallback, StopCheck
from .synthetic_image import render_image, smoothstep

NIGHT_GAIN = np.array([0.22, 0.3, 0.58], np.float32)  # RGB at full night: dark and blue
MEET_SHIFT = 0.2  # each half travels this fraction of the width towards the middle
HEART_COLOUR = (235, 40, 90)


def _frames(
    request: RenderRequest,
    draw,
    on_step: StepCallback | None,
    should_stop: StopCheck | None,
) -> Iterator[np.ndarray]:
    total = request.num_frames
    for index in range(total):
        if should_stop is not None and should_stop():
            raise GenerationCancelled(f"cancelled at frame {index} of {total}")
        frame = draw(index / max(total - 1, 1))
        if on_step is not None:
            on_step(index + 1, total)
        yield frame


def render_look(
    request: RenderRequest, on_step: StepCallback | None, should_stop: StopCheck | None
) -> Iterator[np.ndarray]:
    """The frames of an effect scene over ``request.image`` (fitted to the canvas)."""
    look = request.look or "drift"
    if look == "drift":
        return render_image(request, on_step, should_stop)
    if look == "still":
        held = replace(request, extra={**request.extra, "camera_moves": True})
        return render_image(held, on_step, should_stop)
    if look == "night":
        total = max(request.num_frames - 1, 1)
        drifting = render_image(request, on_step, should_stop)
        return (night(frame, i / total) for i, frame in enumerate(drifting))
    base = request.image
    if base is None:
        raise ValueError(f"the {look} look needs an image")
    if look == "orbit":
        strip = np.concatenate([base, base[:, ::-1]], axis=1)  # seamless all the way round
        return _frames(request, lambda t: orbit(strip, t, base.shape[1]), on_step, should_stop)
    if look in ("meet", "heart"):
        backdrop = _backdrop(base)
        return _frames(
            request, lambda t: meet(base, backdrop, t, heart=look == "heart"), on_step, should_stop
        )
    raise ValueError(f"unknown look {look!r}")


def night(frame: np.ndarray, t: float) -> np.ndarray:
    """Day to night at progress ``t``: the light falls (more at the top, the sky) and cools."""
    g = smoothstep(t)
    if g == 0:
        return frame
    h = frame.shape[0]
    gain = 1.0 - g * (1.0 - NIGHT_GAIN)  # (3,)
    sky = 1.0 - 0.15 * g * np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None, None]
    out = frame.astype(np.float32) * gain * sky
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def orbit(strip: np.ndarray, t: float, width: int) -> np.ndarray:
    """The view at progress ``t`` of a full turn round ``strip`` (the picture and its mirror)."""
    offset = smoothstep(t) * strip.shape[1]
    start = int(math.floor(offset)) % strip.shape[1]
    columns = (np.arange(width) + start) % strip.shape[1]
    return np.ascontiguousarray(strip[:, columns])


def _backdrop(base: np.ndarray) -> np.ndarray:
    """What shows where the halves have moved away from the edges: the picture, blurred and
    dimmed."""
    k = max(3, (min(base.shape[:2]) // 8) | 1)
    return (cv2.GaussianBlur(base, (k, k), 0).astype(np.float32) * 0.55).astype(np.uint8)


def meet(base: np.ndarray, backdrop: np.ndarray, t: float, *, heart: bool) -> np.ndarray:
    """The stitched pair at progress ``t``: the left half moved right, the right half left,
    blended where they overlap in the middle; with ``heart``, a heart rising between them."""
    h, w = base.shape[:2]
    half = w // 2
    shift = int(round(MEET_SHIFT * w * smoothstep(t)))
    if shift == 0 and not heart:
        return base.copy()
    out = backdrop.astype(np.float32)
    left = base[:, :half].astype(np.float32)
    right = base[:, half:].astype(np.float32)
    # the right half first, then the left over it up to the middle, with a soft seam there
    r0 = half - shift
    out[:, r0 : r0 + right.shape[1]] = right[:, : w - r0]
    l0 = shift
    alpha = np.ones(half, np.float32)
    feather = min(2 * shift, max(2, w // 16))
    end = half - shift  # the middle of the frame, in the left half's columns
    alpha[end:] = 0.0
    if feather > 0:
        start = max(0, end - feather // 2)
        stop = min(half, end + feather // 2)
        alpha[start:stop] = np.linspace(1.0, 0.0, stop - start, dtype=np.float32)
    alpha = alpha[None, :, None]
    region = out[:, l0 : l0 + half]
    out[:, l0 : l0 + half] = left * alpha + region * (1 - alpha)
    frame = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    if heart and t > 0.25:
        _heart(frame, w / 2, h * 0.4, min(w, h) * 0.16 * smoothstep((t - 0.25) / 0.75))
    return frame


def _heart(frame: np.ndarray, cx: float, cy: float, size: float) -> None:
    if size < 2:
        return
    k = np.linspace(0, 2 * math.pi, 64)
    xs = 16 * np.sin(k) ** 3
    ys = -(13 * np.cos(k) - 5 * np.cos(2 * k) - 2 * np.cos(3 * k) - np.cos(4 * k))
    pts = np.stack([cx + xs * size / 16, cy + ys * size / 16], axis=1)
    cv2.fillPoly(frame, [np.round(pts * 16).astype(np.int32)], HEART_COLOUR, cv2.LINE_AA, 4)
