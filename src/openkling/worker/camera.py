"""Camera paths: move a virtual camera over an overscanned canvas, for any engine's frames.

The engine renders a canvas larger than the output (``CameraPath.overscan`` times); the path
moves, scales, rolls and turns a viewport through it and resamples each frame at the output
size. Values follow Kling's ``camera_control``: each axis in [-10, 10], the sign is the
direction of the *camera* (content on screen moves the other way). See docs/camera.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..domain.request import CameraControl
from ..domain.vocabulary import CAMERA_AXES

# How far each axis moves the camera over the whole clip at |value| = 10 (linear in the value).
SHIFT_AT_10 = 0.25  # horizontal / vertical: a quarter of the frame's width / height
ZOOM_AT_10 = 0.5  # zoom: the picture is magnified (or shrunk) by 1 + 0.5 = 1.5x
ROLL_AT_10 = 20.0  # roll: degrees
PAN_AT_10 = 15.0  # pan (turn about the vertical axis): degrees
TILT_AT_10 = 10.0  # tilt (turn about the horizontal axis): degrees
FIELD_OF_VIEW = 60.0  # degrees across the long side: the lens that pan and tilt turn
MAX_OVERSCAN = 1.6  # beyond this the path still fits, by upsampling a little
EDGE_MARGIN = 0.05  # pixels kept between the sampled area and the canvas edge

PRESETS: dict[str, dict[str, float]] = {
    "down_back": {"vertical": -5.0, "zoom": -5.0},  # descend and pull back
    "forward_up": {"zoom": 5.0, "tilt": 4.0},  # push forward, tilting up
    "right_turn_forward": {"pan": 5.0, "zoom": 3.0},  # turn right while moving forward
    "left_turn_forward": {"pan": -5.0, "zoom": 3.0},  # turn left while moving forward
}
PRESET_PHRASES = {
    "down_back": "camera descends and pulls back",
    "forward_up": "camera moves forward and tilts up",
    "right_turn_forward": "camera turns right while moving forward",
    "left_turn_forward": "camera turns left while moving forward",
}
_VERBS = {
    "horizontal": ("moves right", "moves left"),
    "vertical": ("moves up", "moves down"),
    "zoom": ("zooms in", "zooms out"),
    "pan": ("pans right", "pans left"),
    "tilt": ("tilts up", "tilts down"),
    "roll": ("rolls clockwise", "rolls counterclockwise"),
}
_REFERENCE_SIZES = ((1280, 720), (720, 1280), (720, 720))  # the aspect ratios Kling offers


def smoothstep(x: float) -> float:
    """Ease in and out: 0 -> 0, 1 -> 1, zero speed at both ends."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _phrase(moves: dict[str, float]) -> str:
    parts = []
    for axis in CAMERA_AXES:
        value = moves.get(axis, 0.0)
        if value == 0:
            continue
        speed = "slowly " if abs(value) <= 3 else "quickly " if abs(value) >= 8 else ""
        parts.append(speed + _VERBS[axis][0 if value > 0 else 1])
    return "camera " + " and ".join(parts) if parts else ""


@dataclass(frozen=True)
class CameraPath:
    """One clip's camera motion: axis values in Kling units, and what the engine must render."""

    moves: dict[str, float] = field(default_factory=dict)
    prompt_phrase: str = ""
    overscan: float = 1.0

    @property
    def is_static(self) -> bool:
        return not any(self.moves.values())

    def overscan_for(self, out_width: int, out_height: int) -> float:
        """The overscan this path needs at one output size; ``overscan`` covers all of Kling's
        aspect ratios, and pan and tilt need less room on some than on others."""
        if self.is_static:
            return 1.0
        return _round_up(_required_overscan(self, [(out_width, out_height)]))

    # ---- geometry ----------------------------------------------------------------------

    def pose(self, progress: float, out_width: int, out_height: int) -> np.ndarray:
        """3x3 map from output pixels to canvas pixels, relative to both centres, scale 1."""
        m = self.moves
        p = smoothstep(progress) - 0.5  # the path is centred: -0.5 .. +0.5
        focal = 0.5 * max(out_width, out_height) / math.tan(math.radians(FIELD_OF_VIEW / 2))
        yaw = math.radians(PAN_AT_10 * m.get("pan", 0.0) / 10 * p)
        pitch = math.radians(TILT_AT_10 * m.get("tilt", 0.0) / 10 * p)
        roll = math.radians(ROLL_AT_10 * m.get("roll", 0.0) / 10 * p)
        zoom = m.get("zoom", 0.0)
        scale = (1 + ZOOM_AT_10 * abs(zoom) / 10) ** (-p if zoom > 0 else p)  # in: shrinks
        tx = SHIFT_AT_10 * m.get("horizontal", 0.0) / 10 * p * out_width
        ty = -SHIFT_AT_10 * m.get("vertical", 0.0) / 10 * p * out_height  # canvas y points down

        cy, sy = math.cos(yaw), math.sin(yaw)  # turning right sends the centre ray to +x
        r_yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        cp, sp = math.cos(pitch), math.sin(pitch)  # turning up sends it to -y (up on screen)
        r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        cr, sr = math.cos(roll), math.sin(roll)  # the viewport's axes turn clockwise on screen
        r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
        turn = np.diag([focal, focal, 1.0]) @ r_yaw @ r_pitch @ r_roll @ np.diag([1, 1, focal])
        turn /= turn[2, 2]
        move = np.array([[scale, 0, tx], [0, scale, ty], [0, 0, 1.0]])
        return move @ turn

    def _poses(self, out_width: int, out_height: int, num_frames: int) -> list[np.ndarray]:
        last = max(num_frames - 1, 1)
        return [self.pose(i / last, out_width, out_height) for i in range(num_frames)]

    @staticmethod
    def _extent(poses: list[np.ndarray], out_width: int, out_height: int) -> tuple[float, float]:
        """Largest |x|, |y| any output corner reaches in the canvas (scale 1, centred)."""
        hw, hh = (out_width - 1) / 2, (out_height - 1) / 2
        corners = np.array([[-hw, -hh, 1], [hw, -hh, 1], [hw, hh, 1], [-hw, hh, 1]]).T
        ex = ey = 0.0
        for pose in poses:
            q = pose @ corners
            q = q[:2] / q[2]
            ex, ey = max(ex, float(np.abs(q[0]).max())), max(ey, float(np.abs(q[1]).max()))
        return ex, ey

    def _scale(self, poses: list[np.ndarray], out_w: int, out_h: int, cw: int, ch: int) -> float:
        """The largest canvas-pixels-per-output-pixel at which every frame stays inside."""
        ex, ey = self._extent(poses, out_w, out_h)
        room_x, room_y = (cw - 1) / 2 - EDGE_MARGIN, (ch - 1) / 2 - EDGE_MARGIN
        return min(room_x / ex if ex else math.inf, room_y / ey if ey else math.inf)

    def transforms(
        self,
        *,
        out_width: int,
        out_height: int,
        canvas_width: int,
        canvas_height: int,
        num_frames: int,
    ) -> list[np.ndarray]:
        """Per frame, the 3x3 map from output pixel centres to canvas pixel coordinates.

        The scale is the largest at which the whole path stays inside the canvas, so any
        canvas works: a larger one is sampled finer, a smaller one is upsampled, never leaked.
        """
        poses = self._poses(out_width, out_height, num_frames)
        k = self._scale(poses, out_width, out_height, canvas_width, canvas_height)
        to_out = np.array([[1, 0, -(out_width - 1) / 2], [0, 1, -(out_height - 1) / 2], [0, 0, 1]])
        to_canvas = np.array(
            [[k, 0, (canvas_width - 1) / 2], [0, k, (canvas_height - 1) / 2], [0, 0, 1.0]]
        )
        return [to_canvas @ pose @ to_out for pose in poses]

    # ---- frames ------------------------------------------------------------------------

    def apply(
        self, frames: Iterable[np.ndarray], *, out_width: int, out_height: int, num_frames: int
    ) -> Iterator[np.ndarray]:
        """Output-size frames: the viewport along the path, or the canvas fitted if static."""
        size = (out_height, out_width)
        maps: list[np.ndarray] | None = None
        canvas: tuple[int, int] | None = None
        pre_scale = 1.0
        for index, frame in enumerate(frames):
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"frames must be HxWx3 uint8, got {frame.shape} {frame.dtype}")
            if canvas is None:
                canvas = frame.shape[:2]
            elif frame.shape[:2] != canvas:
                raise ValueError(f"frame {index} is {frame.shape[:2]}, the first was {canvas}")
            if self.is_static:
                yield frame if frame.shape[:2] == size else _fit(frame, out_width, out_height)
                continue
            if index >= num_frames:
                raise ValueError(
                    f"more frames than the {num_frames} the camera path was planned for"
                )
            if maps is None:
                pre_scale, maps = self._plan(canvas, out_width, out_height, num_frames)
            if pre_scale != 1.0:  # a much larger canvas: shrink it well first, then warp
                w = round(canvas[1] * pre_scale)
                h = round(canvas[0] * pre_scale)
                frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
            yield _warp(frame, maps[index], out_width, out_height)

    def _plan(
        self, canvas: tuple[int, int], out_width: int, out_height: int, num_frames: int
    ) -> tuple[float, list[np.ndarray]]:
        """The per-frame maps, and a pre-shrink factor when the canvas is much too large."""
        hc, wc = canvas
        poses = self._poses(out_width, out_height, num_frames)
        k = self._scale(poses, out_width, out_height, wc, hc)
        pre = 1.0 if k <= 1.3 else 1.0 / k  # bilinear warps alias when shrinking much
        w, h = round(wc * pre), round(hc * pre)
        maps = self.transforms(
            out_width=out_width,
            out_height=out_height,
            canvas_width=w,
            canvas_height=h,
            num_frames=num_frames,
        )
        return pre, maps


def _warp(frame: np.ndarray, matrix: np.ndarray, out_width: int, out_height: int) -> np.ndarray:
    """Bilinear resample of the canvas under ``matrix`` (output pixel -> canvas pixel).

    OpenCV's vectorised warp paths cover 4-channel images: going through RGBA is about 3x
    faster than warping RGB directly, with identical pixels.
    """
    # only the part of the canvas this frame's viewport touches is converted and read
    corners = np.array(
        [[0, out_width - 1, out_width - 1, 0], [0, 0, out_height - 1, out_height - 1]]
    )
    q = matrix @ np.vstack([corners, np.ones(4)])
    xs, ys = q[0] / q[2], q[1] / q[2]
    h, w = frame.shape[:2]
    x0, y0 = max(0, int(xs.min()) - 2), max(0, int(ys.min()) - 2)
    x1, y1 = min(w, int(math.ceil(xs.max())) + 3), min(h, int(math.ceil(ys.max())) + 3)
    matrix = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1.0]]) @ matrix
    rgba = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2RGBA)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    size = (out_width, out_height)
    if abs(matrix[2, 0]) < 1e-12 and abs(matrix[2, 1]) < 1e-12:
        affine = matrix[:2] / matrix[2, 2]
        out = cv2.warpAffine(rgba, affine, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    else:
        out = cv2.warpPerspective(rgba, matrix, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    return cv2.cvtColor(out, cv2.COLOR_RGBA2RGB)


def _fit(frame: np.ndarray, out_width: int, out_height: int) -> np.ndarray:
    """Centre-crop the canvas to the output's aspect ratio, then resize it to the output."""
    h, w = frame.shape[:2]
    k = min(w / out_width, h / out_height)
    cw, ch = min(w, round(out_width * k)), min(h, round(out_height * k))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    crop = frame[y0 : y0 + ch, x0 : x0 + cw]
    shrink = cw >= out_width
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(crop, (out_width, out_height), interpolation=interpolation)


def _required_overscan(path: CameraPath, sizes: Iterable[tuple[int, int]]) -> float:
    need = 1.0
    for w, h in sizes:
        ex, ey = path._extent(path._poses(w, h, 97), w, h)
        need = max(need, ex / ((w - 1) / 2), ey / ((h - 1) / 2))
    return need


def _round_up(overscan: float) -> float:
    # to the next 1/100 and a bit: a canvas of round(size * overscan) still holds the path
    return min(MAX_OVERSCAN, math.ceil(overscan * 100 + 0.5) / 100)


def plan_camera(control: CameraControl | None) -> CameraPath:
    """The camera path for a request's ``camera_control`` (a static path when there is none)."""
    if control is None:
        return CameraPath()
    if control.type == "simple":
        config = control.config.model_dump() if control.config else {}
        moves = {axis: float(config.get(axis) or 0.0) for axis in CAMERA_AXES}
        phrase = _phrase(moves)
    else:
        moves = {axis: PRESETS[control.type].get(axis, 0.0) for axis in CAMERA_AXES}
        phrase = PRESET_PHRASES[control.type]
    moves = {axis: value for axis, value in moves.items() if value}
    if not moves:
        return CameraPath()
    path = CameraPath(moves=moves, prompt_phrase=phrase)
    overscan = _round_up(_required_overscan(path, _REFERENCE_SIZES))
    return CameraPath(moves=moves, prompt_phrase=phrase, overscan=overscan)
