"""The synthetic engine's image path: the input image set in motion, on the CPU, no weights.

Frame 0 is the image. The picture then drifts in gently (a slow push-in with a slight sideways
glide), unless the worker moves a camera over it (``extra["camera_moves"]``): then it holds
still and the camera path is the motion. With ``image_tail`` the clip eases into the
tail image, which is the last frame exactly. Pixels under ``static_mask`` keep their first
value; each dynamic mask's region is lifted off and carried along its trajectory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

from ..errors import GenerationCancelled
from .base import RenderRequest, StepCallback, StopCheck

PUSH_IN = 0.06  # the default motion magnifies the picture this much over the clip
GLIDE = 0.015  # ... and slides it sideways by this fraction of the width


def smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _motion(t: float, width: int, height: int) -> np.ndarray:
    """2x3 affine map (source pixel -> frame pixel) of the default motion at progress ``t``."""
    s = 1.0 + PUSH_IN * smoothstep(t)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    dx = GLIDE * width * smoothstep(t)
    return np.array([[s, 0.0, cx - s * cx + dx], [0.0, s, cy - s * cy]], np.float64)


def _still(t: float, width: int, height: int) -> np.ndarray:
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _compose_inverse(m: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``m`` after undoing ``end``: the map that is the identity where ``m`` equals ``end``."""
    a = np.vstack([m, [0, 0, 1]])
    b = np.vstack([end, [0, 0, 1]])
    return (a @ np.linalg.inv(b))[:2]


def _warp(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    if np.allclose(matrix, [[1, 0, 0], [0, 1, 0]]):
        return image
    return cv2.warpAffine(
        image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def _along(points: list[tuple[float, float]], t: float) -> tuple[float, float]:
    """The point a fraction ``t`` of the way along a polyline, by length."""
    if len(points) == 1:
        return points[0]
    pts = np.asarray(points, np.float64)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    total = float(seg.sum())
    if total == 0:
        return points[0]
    target = min(max(t, 0.0), 1.0) * total
    for i, length in enumerate(seg):
        if target <= length or i == len(seg) - 1:
            f = 0.0 if length == 0 else min(target / length, 1.0)
            x, y = pts[i] + f * (pts[i + 1] - pts[i])
            return float(x), float(y)
        target -= length
    return points[-1]


class _Region:
    """One dynamic mask: the pixels it covers in frame 0, and where they go."""

    def __init__(self, image: np.ndarray, mask: np.ndarray, path: list[tuple[float, float]]):
        ys, xs = np.nonzero(mask)
        self.empty = len(xs) == 0
        if self.empty:
            return
        pad = 2
        h, w = mask.shape
        self.x0, self.y0 = max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad)
        x1, y1 = min(w, int(xs.max()) + pad + 1), min(h, int(ys.max()) + pad + 1)
        self.patch = image[self.y0 : y1, self.x0 : x1].astype(np.float32)
        # a soft edge, so the travelling region blends into what it passes over
        alpha = mask[self.y0 : y1, self.x0 : x1].astype(np.float32)
        self.alpha = cv2.GaussianBlur(alpha, (3, 3), 0)[:, :, None]
        self.path = path
        self.start = path[0]

    def paste(self, frame: np.ndarray, t: float) -> None:
        if self.empty:
            return
        x, y = _along(self.path, t)
        dx, dy = x - self.start[0], y - self.start[1]
        ph, pw = self.patch.shape[:2]
        h, w = frame.shape[:2]
        # sub-pixel placement: shift the patch by the fractional part, then paste at the integer
        ix, iy = math.floor(self.x0 + dx), math.floor(self.y0 + dy)
        fx, fy = self.x0 + dx - ix, self.y0 + dy - iy
        shift = np.array([[1, 0, fx], [0, 1, fy]], np.float64)
        size = (pw + 1, ph + 1)
        patch = cv2.warpAffine(self.patch, shift, size, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(self.alpha, shift, size, flags=cv2.INTER_LINEAR)[:, :, None]
        fx0, fy0 = max(ix, 0), max(iy, 0)
        fx1, fy1 = min(ix + pw + 1, w), min(iy + ph + 1, h)
        if fx1 <= fx0 or fy1 <= fy0:
            return  # the trajectory left the picture
        px0, py0 = fx0 - ix, fy0 - iy
        region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
        a = alpha[py0 : py0 + fy1 - fy0, px0 : px0 + fx1 - fx0]
        p = patch[py0 : py0 + fy1 - fy0, px0 : px0 + fx1 - fx0]
        frame[fy0:fy1, fx0:fx1] = np.clip(region * (1 - a) + p * a + 0.5, 0, 255).astype(np.uint8)


def _fill_holes(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The picture with the lifted regions filled from their surroundings (at low resolution,
    so large regions stay cheap)."""
    if not hole.any():
        return image
    h, w = hole.shape
    k = min(1.0, 256 / max(h, w))
    small = cv2.resize(
        image, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA
    )
    small_hole = cv2.resize(hole.astype(np.uint8) * 255, small.shape[1::-1]) > 0
    small_mask = cv2.dilate(small_hole.astype(np.uint8), np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_mask, 5, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    grown = cv2.dilate(hole.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    out = image.copy()
    out[grown] = filled[grown]
    return out


def render_image(
    request: RenderRequest, on_step: StepCallback | None, should_stop: StopCheck | None
) -> Iterator[np.ndarray]:
    """The frames of an image request (``request.image`` and/or ``request.image_tail`` set)."""
    first = request.image if request.image is not None else request.image_tail
    assert first is not None
    h, w = first.shape[:2]
    if (w, h) != (request.width, request.height):
        raise ValueError(f"image is {w}x{h}, the canvas {request.width}x{request.height}")
    tail = request.image_tail if request.image is not None else None
    alone_tail = request.image is None  # only an end frame: the clip arrives at it
    total = request.num_frames
    motion = _still if request.extra.get("camera_moves") else _motion
    end = motion(1.0, w, h)
    regions = [_Region(first, m, path) for m, path in request.dynamic_masks]
    lifted = np.zeros((h, w), bool)
    for mask, _ in request.dynamic_masks:
        lifted |= mask
    base = _fill_holes(first, lifted)
    still = request.static_mask
    for index in range(total):
        if should_stop is not None and should_stop():
            raise GenerationCancelled(f"cancelled at frame {index} of {total}")
        t = index / max(total - 1, 1)
        move = motion(t, w, h)
        if alone_tail:
            frame = _warp(base, _compose_inverse(move, end))
        else:
            frame = _warp(base, move)
            if tail is not None:
                weight = smoothstep(t)
                arriving = _warp(tail, _compose_inverse(move, end))
                frame = cv2.addWeighted(frame, 1.0 - weight, arriving, weight, 0.0)
                if index == total - 1:
                    frame = tail.copy()
        if still is not None:
            frame = frame.copy() if frame is base else frame
            frame[still] = first[still]
        for region in regions:
            if frame is base:
                frame = frame.copy()
            region.paste(frame, t)
        if frame is base or frame is first or frame is tail:
            frame = frame.copy()
        if on_step is not None:
            on_step(index + 1, total)
        yield frame
