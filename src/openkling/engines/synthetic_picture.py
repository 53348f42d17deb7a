"""The synthetic picture engine: draws the prompt (and the reference image) on the CPU, no weights.

Each picture is a seeded two-colour gradient with soft discs; with a reference image, the
reference is laid over it at ``image_fidelity`` (1.0: the reference itself). The prompt is
written across the lower part in a dark band, and the picture's number in a corner, so the
pictures of one task differ and each says what it was asked to show.
"""

from __future__ import annotations

import textwrap

import cv2
import numpy as np

from ..domain.image_catalog import IMAGE_SIZES
from ..errors import GenerationCancelled
from .base import PictureRequest, StepCallback, StopCheck

FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE = (255, 255, 255)
MAX_LINES = 6  # a long prompt is cut here, ending in "..."


def _background(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(30, 226, size=(2, 3)).astype(np.float32)
    angle = rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (xs / max(width - 1, 1)) * np.cos(angle) + (ys / max(height - 1, 1)) * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    picture = a + (b - a) * t[:, :, None]
    for _ in range(3):  # soft discs, so two seeds never look alike
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(0.1, 0.3) * min(width, height)
        colour = rng.integers(0, 256, size=3).astype(np.float32)
        weight = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2))[:, :, None] * 0.6
        picture = picture * (1 - weight) + colour * weight
    return picture


def _lines(text: str, width: int, scale: float, thickness: int) -> list[str]:
    """The prompt wrapped to the picture's width (ASCII only: Hershey fonts have no more)."""
    ascii_text = "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(text.split()))
    char_w = cv2.getTextSize("M", FONT, scale, thickness)[0][0]
    per_line = max(8, int(width * 0.9 / max(char_w, 1)))
    lines = textwrap.wrap(ascii_text, per_line) or [""]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][: per_line - 3] + "..."
    return lines


def _write(picture: np.ndarray, request: PictureRequest) -> None:
    height, width = picture.shape[:2]
    scale = max(0.3, width / 1100)
    thickness = max(1, round(scale * 2))
    lines = _lines(request.prompt, width, scale, thickness)
    line_h = int(cv2.getTextSize("Mg", FONT, scale, thickness)[0][1] * 1.9)
    band = min(height, line_h * len(lines) + line_h // 2)
    top = height - band
    picture[top:] = (picture[top:].astype(np.float32) * 0.35).astype(np.uint8)
    for i, line in enumerate(lines):
        y = top + line_h * (i + 1) - line_h // 4
        origin = (int(width * 0.05), y)
        cv2.putText(picture, line, origin, FONT, scale, WHITE, thickness, cv2.LINE_AA)
    label = f"#{request.index + 1}"
    cv2.putText(picture, label, (line_h // 2, line_h), FONT, scale, WHITE, thickness, cv2.LINE_AA)


class SyntheticPictureEngine:
    """A PictureEngine that needs nothing but the CPU: the default for every image model."""

    name = "synthetic"
    reference = True

    def __init__(self, sizes: dict[str, dict[str, tuple[int, int]]] | None = None) -> None:
        self.sizes = sizes or IMAGE_SIZES

    def size(self, resolution: str, aspect_ratio: str) -> tuple[int, int]:
        return self.sizes[resolution][aspect_ratio]

    def draw(
        self,
        request: PictureRequest,
        *,
        on_step: StepCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> np.ndarray:
        if should_stop is not None and should_stop():
            raise GenerationCancelled(f"cancelled before picture {request.index + 1}")
        width, height = request.width, request.height
        picture = _background(width, height, request.seed)
        if request.reference is not None:
            reference = request.reference
            if reference.shape[:2] != (height, width):
                got = f"{reference.shape[1]}x{reference.shape[0]}"
                raise ValueError(f"reference is {got}, the picture {width}x{height}")
            fidelity = min(max(request.image_fidelity, 0.0), 1.0)
            picture = picture * (1 - fidelity) + reference.astype(np.float32) * fidelity
        out = np.clip(picture + 0.5, 0, 255).astype(np.uint8)
        _write(out, request)
        if on_step is not None:
            on_step(1, 1)
        return out
