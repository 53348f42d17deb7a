"""The synthetic engine: prompt-shaped animated frames on the CPU, with no weights and no GPU."""

from __future__ import annotations

import colorsys
import hashlib
import math
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..domain.vocabulary import ASPECT_RATIOS
from ..errors import GenerationCancelled
from .base import Capabilities, RenderRequest, StepCallback, StopCheck
from .synthetic_effects import render_look
from .synthetic_image import render_image

SHAPE_KINDS = ("circle", "ring", "square", "triangle", "star", "hexagon")
MOTIONS = ("orbit", "bob", "sway", "figure8")

# Words that pull the palette towards a hue (0..1) and a brightness.
HUE_WORDS: dict[str, tuple[float, float]] = {
    "ocean": (0.55, 0.8),
    "sea": (0.55, 0.8),
    "water": (0.53, 0.8),
    "sky": (0.58, 0.9),
    "blue": (0.6, 0.8),
    "river": (0.52, 0.8),
    "rain": (0.6, 0.6),
    "storm": (0.62, 0.5),
    "forest": (0.33, 0.65),
    "grass": (0.28, 0.8),
    "green": (0.33, 0.8),
    "meadow": (0.25, 0.85),
    "sunset": (0.05, 0.85),
    "sunrise": (0.09, 0.9),
    "fire": (0.04, 0.9),
    "autumn": (0.07, 0.8),
    "orange": (0.08, 0.9),
    "red": (0.0, 0.8),
    "rose": (0.95, 0.85),
    "desert": (0.11, 0.9),
    "gold": (0.13, 0.9),
    "sun": (0.12, 0.95),
    "yellow": (0.15, 0.95),
    "night": (0.67, 0.45),
    "space": (0.7, 0.4),
    "dark": (0.7, 0.4),
    "neon": (0.85, 0.8),
    "purple": (0.78, 0.7),
    "snow": (0.56, 0.95),
    "winter": (0.57, 0.9),
    "ice": (0.52, 0.95),
    "castle": (0.1, 0.75),
}
CALM_WORDS = {"calm", "slow", "gentle", "quiet", "peaceful", "serene", "soft", "still", "sleep"}
FAST_WORDS = {"fast", "quick", "running", "race", "dance", "dancing", "energetic", "storm", "wild"}


def _even(value: float) -> int:
    return max(2, int(math.ceil(value / 2.0)) * 2)


def font_size(short_side: int) -> int:
    """Pixel size of the prompt's text on a canvas with this short side."""
    return max(9, short_side // 22)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).digest()


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(_digest(*parts)[:8], "little"))


def _words(text: str) -> list[str]:
    return ["".join(ch for ch in w.lower() if ch.isalnum()) for w in text.split()]


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


@dataclass(frozen=True)
class _Shape:
    kind: str
    color: tuple[int, int, int]
    light: tuple[int, int, int]
    anchor: tuple[float, float]  # canvas pixels
    size: float  # radius in pixels
    motion: str
    amplitude: float  # pixels
    period: float  # seconds per cycle
    phase: float
    spin: float  # turns per second


class SyntheticEngine:
    """Deterministic, prompt-shaped animation: textured backdrop, moving shapes, the prompt."""

    name = "synthetic"
    # the image path (synthetic_image) honours a first and last frame and both mask kinds
    # reference images are shown as a strip of thumbnails along the bottom edge
    capabilities = Capabilities(image_input=True, end_frame=True, masks=True, references=True)

    def __init__(self, fps: int = 24, std_short_side: int = 720, pro_short_side: int = 1080):
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = fps
        self.short_sides = {"std": _even(std_short_side), "pro": _even(pro_short_side)}

    def output_size(self, mode: str, aspect_ratio: str) -> tuple[int, int]:
        if mode not in self.short_sides:
            raise ValueError(f"mode must be one of std, pro; got {mode!r}")
        short = self.short_sides[mode]
        long = _even(short * 16 / 9)
        sizes = {"16:9": (long, short), "9:16": (short, long), "1:1": (short, short)}
        if aspect_ratio not in sizes:
            raise ValueError(
                f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}; got {aspect_ratio!r}"
            )
        return sizes[aspect_ratio]

    def frame_plan(self, duration_s: float) -> tuple[int, float]:
        return max(1, math.ceil(duration_s * self.fps - 1e-9)), float(self.fps)

    def canvas_size(self, width: int, height: int) -> tuple[int, int]:
        return _even(width), _even(height)

    def render(
        self,
        request: RenderRequest,
        *,
        on_step: StepCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> Iterator[np.ndarray]:
        if request.width < 16 or request.height < 16:
            raise ValueError(f"canvas must be at least 16x16, got {request.width}x{request.height}")
        if request.num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {request.num_frames}")
        if request.look is not None and request.image is not None:
            return render_look(request, on_step, should_stop)
        if request.image is not None or request.image_tail is not None:
            frames = render_image(request, on_step, should_stop)
        else:
            frames = self._frames(request, on_step, should_stop)
        if request.references:
            return _with_references(frames, request.references)
        return frames

    def _frames(
        self, request: RenderRequest, on_step: StepCallback | None, should_stop: StopCheck | None
    ) -> Iterator[np.ndarray]:
        # 1. static layers, once per clip
        scene = _Scene(request)
        total = request.num_frames
        # 2. per frame: copy the backdrop, draw the shapes, put the text panel back on top
        for index in range(total):
            if should_stop is not None and should_stop():
                raise GenerationCancelled(f"cancelled at frame {index} of {total}")
            frame = scene.frame(index, index / request.fps, total)
            if on_step is not None:
                on_step(index + 1, total)
            yield frame


class _Scene:
    """Everything about one clip that does not change from frame to frame."""

    def __init__(self, request: RenderRequest) -> None:
        self.width, self.height = request.width, request.height
        self.short = min(self.width, self.height)
        words = _words(request.prompt)
        prompt_rng = _rng("prompt", request.prompt)
        clip_rng = _rng("clip", request.prompt, request.negative_prompt, request.seed)

        # palette: a base hue from colour words or the prompt's hash; cfg sets the saturation
        hints = [HUE_WORDS[w] for w in words if w in HUE_WORDS]
        if hints:
            hue = float(np.mean([h for h, _ in hints])) + prompt_rng.uniform(-0.03, 0.03)
            value = float(np.mean([v for _, v in hints]))
        else:
            hue, value = float(prompt_rng.random()), float(prompt_rng.uniform(0.6, 0.9))
        saturation = 0.35 + 0.45 * min(max(request.cfg_scale, 0.0), 1.0)
        self.hue, self.value, self.saturation = hue, value, saturation
        speed = (
            0.6 if CALM_WORDS.intersection(words) else 1.6 if FAST_WORDS.intersection(words) else 1
        )
        self.background = self._backdrop(clip_rng)
        self.shapes = self._shapes(prompt_rng, clip_rng, speed)
        self.panel_box = self._panel(request)

    def _backdrop(self, rng: np.random.Generator) -> np.ndarray:
        w, h, s = self.width, self.height, self.short
        top = np.array(_rgb(self.hue, self.saturation, self.value), np.float32)
        bottom = np.array(
            _rgb(self.hue + 0.08, self.saturation * 0.8, self.value * 0.6), np.float32
        )
        ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        image = top * (1 - ramp) + bottom * ramp  # (h, 1, 3)
        # value noise at two scales gives optical flow something to hold on to everywhere
        noise = np.zeros((h, w), np.float32)
        for cell, amount in ((s / 14, 26.0), (s / 70, 16.0)):
            gw, gh = max(2, int(w / max(cell, 2)) + 2), max(2, int(h / max(cell, 2)) + 2)
            coarse = rng.random((gh, gw), dtype=np.float32) - 0.5
            noise += cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) * amount
        image = image + noise[:, :, None]
        # a faint grid, in canvas coordinates, so straight lines show the camera's geometry
        step = max(8, s // 9)
        shade = np.ones((h, w), np.float32)
        thick = max(1, s // 360)
        for x in range(step // 2, w, step):
            shade[:, x : x + thick] = 0.8
        for y in range(step // 2, h, step):
            shade[y : y + thick, :] = 0.8
        image *= shade[:, :, None]
        # never near black: the camera tests read a black edge as a missing canvas
        return np.clip(image, 40, 255).astype(np.uint8)

    def _shapes(
        self, prompt_rng: np.random.Generator, clip_rng: np.random.Generator, speed: float
    ) -> list[_Shape]:
        w, h, s = self.width, self.height, self.short
        count = int(prompt_rng.integers(3, 7))
        kinds = prompt_rng.choice(len(SHAPE_KINDS), size=count)
        motion = MOTIONS[int(prompt_rng.integers(len(MOTIONS)))]
        shapes = []
        for i in range(count):
            hue = self.hue + 0.5 + prompt_rng.uniform(-0.18, 0.18)  # complementary to backdrop
            color = _rgb(hue, 0.75, 0.95)
            light = _rgb(hue, 0.35, 1.0)
            anchor = (
                w * (0.5 + clip_rng.uniform(-0.28, 0.28)),
                h * (0.36 + clip_rng.uniform(-0.18, 0.1)),
            )
            shapes.append(
                _Shape(
                    kind=SHAPE_KINDS[int(kinds[i])],
                    color=color,
                    light=light,
                    anchor=anchor,
                    size=s * float(prompt_rng.uniform(0.045, 0.09)),
                    motion=motion,
                    amplitude=s * float(prompt_rng.uniform(0.04, 0.09)),
                    period=float(prompt_rng.uniform(2.0, 4.5)) / speed,
                    phase=float(clip_rng.uniform(0, 2 * math.pi)),
                    spin=float(prompt_rng.uniform(-0.4, 0.4)) * speed,
                )
            )
        return shapes

    def _panel(self, request: RenderRequest) -> tuple[int, int, int, int]:
        """Draw the prompt, wrapped, on a dark panel into the backdrop; return its box."""
        w, h, s = self.width, self.height, self.short
        size = font_size(s)
        font = ImageFont.load_default(size=size)
        small = ImageFont.load_default(size=max(8, size * 2 // 3))
        panel_w = int(w * 0.62)
        chars = max(8, int(panel_w / (size * 0.55)))
        lines = textwrap.wrap(" ".join(request.prompt.split()), width=chars) or [""]
        if len(lines) > 4:
            lines = lines[:3] + [
                textwrap.shorten(" ".join(lines[3:]), width=chars, placeholder="…")
            ]
        caption = f"openkling synthetic · seed {request.seed}"
        line_h = int(size * 1.25)
        pad = max(4, size // 2)
        panel_h = pad * 3 + line_h * len(lines) + int(size * 0.9)
        x0 = (w - panel_w) // 2
        y0 = min(int(h * 0.6), h - panel_h - int(h * 0.12))
        y0 = max(0, y0)
        panel_h = min(panel_h, h - y0)
        region = Image.fromarray(self.background[y0 : y0 + panel_h, x0 : x0 + panel_w])
        overlay = Image.new("RGBA", region.size, (10, 10, 18, 150))
        draw = ImageDraw.Draw(overlay)
        for n, line in enumerate(lines):
            draw.text((pad, pad + n * line_h), line, font=font, fill=(255, 255, 255, 255))
        draw.text(
            (pad, pad * 2 + len(lines) * line_h), caption, font=small, fill=(220, 220, 220, 230)
        )
        region = Image.alpha_composite(region.convert("RGBA"), overlay).convert("RGB")
        self.background[y0 : y0 + panel_h, x0 : x0 + panel_w] = np.asarray(region)
        self.bar = (y0 + panel_h - max(2, pad // 2), y0 + panel_h - 1, x0 + pad, x0 + panel_w - pad)
        return x0, y0, x0 + panel_w, y0 + panel_h

    def frame(self, index: int, t: float, total: int) -> np.ndarray:
        frame = self.background.copy()
        for shape in self.shapes:
            _draw(frame, shape, t)
        x0, y0, x1, y1 = self.panel_box
        frame[y0:y1, x0:x1] = self.background[y0:y1, x0:x1]
        by0, by1, bx0, bx1 = self.bar
        frame[by0:by1, bx0 : bx0 + int((bx1 - bx0) * (index + 1) / total)] = (255, 255, 255)
        return frame


SHIFT = 4  # cv2 drawing in 1/16 pixel steps: smooth sub-pixel motion
ONE = 1 << SHIFT


def _position(shape: _Shape, t: float) -> tuple[float, float]:
    a = 2 * math.pi * t / shape.period + shape.phase
    r = shape.amplitude
    dx, dy = {
        "orbit": (math.cos(a) * r, math.sin(a) * r),
        "bob": (0.0, math.sin(a) * r),
        "sway": (math.sin(a) * r, 0.0),
        "figure8": (math.sin(a) * r, math.sin(2 * a) * r * 0.5),
    }[shape.motion]
    return shape.anchor[0] + dx, shape.anchor[1] + dy


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    if kind == "square":
        n, radii = 4, [r * 1.2]
    elif kind == "triangle":
        n, radii = 3, [r * 1.3]
    elif kind == "hexagon":
        n, radii = 6, [r * 1.1]
    else:  # star
        n, radii = 10, [r * 1.3, r * 0.55]
    k = np.arange(n)
    theta = angle + 2 * math.pi * k / n
    rad = np.array([radii[i % len(radii)] for i in range(n)])
    pts = np.stack([cx + rad * np.cos(theta), cy + rad * np.sin(theta)], axis=1)
    return np.round(pts * ONE).astype(np.int32)


def _draw(frame: np.ndarray, shape: _Shape, t: float) -> None:
    cx, cy = _position(shape, t)
    r = shape.size
    angle = 2 * math.pi * shape.spin * t
    aa = cv2.LINE_AA
    if shape.kind in ("circle", "ring"):
        centre = (round(cx * ONE), round(cy * ONE))
        cv2.circle(frame, centre, round(r * ONE), shape.color, -1, aa, SHIFT)
        inner = shape.light if shape.kind == "circle" else shape.color
        if shape.kind == "ring":
            cv2.circle(frame, centre, round(r * 0.55 * ONE), (30, 30, 40), -1, aa, SHIFT)
        # an off-centre highlight turns with the spin, so rotation is visible
        hx, hy = cx + 0.35 * r * math.cos(angle), cy + 0.35 * r * math.sin(angle)
        cv2.circle(
            frame, (round(hx * ONE), round(hy * ONE)), round(r * 0.3 * ONE), inner, -1, aa, SHIFT
        )
        return
    outer = _polygon(shape.kind, cx, cy, r, angle)
    cv2.fillPoly(frame, [outer], shape.color, aa, SHIFT)
    cv2.fillPoly(frame, [_polygon(shape.kind, cx, cy, r * 0.45, -angle)], shape.light, aa, SHIFT)


def _with_references(frames: Iterator[np.ndarray], references: list[np.ndarray]):
    """Each frame with the reference images as thumbnails along its bottom edge, left to right
    in the prompt's order (@image_1 first): what the synthetic engine makes of them."""
    strip: list[tuple[int, np.ndarray]] = []
    for frame in frames:
        if not strip:
            height, width = frame.shape[:2]
            box = max(8, width // 6)  # a thumbnail's longer side
            x = 2
            for ref in references:
                scale = box / max(ref.shape[:2])
                size = (max(1, round(ref.shape[1] * scale)), max(1, round(ref.shape[0] * scale)))
                thumb = cv2.resize(ref, size, interpolation=cv2.INTER_AREA)
                thumb = thumb[: height - 4, : max(0, width - 2 - x)]
                if thumb.size:
                    strip.append((x, thumb))
                x += size[0] + 2
        frame = frame.copy()
        for x, thumb in strip:
            h, w = thumb.shape[:2]
            y = frame.shape[0] - 2 - h
            frame[y : y + h, x : x + w] = thumb
        yield frame
