"""Camera paths, measured: optical flow on the synthetic engine's output after the path."""

from __future__ import annotations

import math
from functools import cache

import cv2
import numpy as np
import pytest

from openkling.contract.kling import CAMERA_AXES, CameraConfig, CameraControl
from openkling.engines.base import RenderRequest
from openkling.engines.synthetic import SyntheticEngine
from openkling.worker.camera import PRESETS, CameraPath, plan_camera

W, H, N = 256, 144, 32
ENGINE = SyntheticEngine()


def simple(**axes: float) -> CameraControl:
    return CameraControl(type="simple", config=CameraConfig(**axes))


def shoot(control: CameraControl | None, width: int = W, height: int = H) -> list[np.ndarray]:
    """Render the synthetic engine on the canvas the path asks for, then run the path."""
    path = plan_camera(control)
    cw, ch = ENGINE.canvas_size(math.ceil(width * path.overscan), math.ceil(height * path.overscan))
    req = RenderRequest(
        prompt="a red fox in fresh snow",
        negative_prompt="",
        width=cw,
        height=ch,
        num_frames=N,
        fps=24.0,
        cfg_scale=0.5,
        seed=3,
    )
    return list(path.apply(ENGINE.render(req), out_width=width, out_height=height, num_frames=N))


@cache
def motion(control: CameraControl | None) -> dict[str, float]:
    """Per-frame median flow (pixels/frame), averaged over the clip.

    dx, dy: content motion on screen (y down); radial: away from the centre;
    clockwise: around the centre, clockwise as seen on screen.
    """
    frames = shoot(control)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    xs -= (W - 1) / 2
    ys -= (H - 1) / 2
    r = np.hypot(xs, ys) + 1e-6
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    sums = dict.fromkeys(("dx", "dy", "radial", "clockwise"), 0.0)
    for a, b in zip(gray, gray[1:], strict=False):
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        fx, fy = flow[..., 0], flow[..., 1]
        sums["dx"] += float(np.median(fx))
        sums["dy"] += float(np.median(fy))
        sums["radial"] += float(np.median((fx * xs + fy * ys) / r))
        sums["clockwise"] += float(np.median((fy * xs - fx * ys) / r))
    return {k: v / (len(gray) - 1) for k, v in sums.items()}


# axis, sign of the value -> which measure moves, and which way (the camera's move mirrored)
EXPECTED = {
    "horizontal": ("dx", -1),  # camera right: content slides left
    "vertical": ("dy", +1),  # camera up: content slides down
    "pan": ("dx", -1),  # camera turns right: content slides left
    "tilt": ("dy", +1),  # camera turns up: content slides down
    "zoom": ("radial", +1),  # zoom in: content grows, flow points away from the centre
    "roll": ("clockwise", -1),  # camera rolls clockwise: content turns counter-clockwise
}
MEASURES = ("dx", "dy", "radial", "clockwise")


def test_no_camera_means_no_motion():
    m = motion(None)
    for key in MEASURES:
        assert abs(m[key]) < 0.03, m


@pytest.mark.parametrize("sign", [+1, -1])
@pytest.mark.parametrize("axis", CAMERA_AXES)
def test_each_axis_moves_the_picture_the_asked_way(axis, sign):
    m = motion(simple(**{axis: 6 * sign}))
    key, direction = EXPECTED[axis]
    assert m[key] * direction * sign > 0.2, m
    for other in MEASURES:  # and little else
        if other != key:
            assert abs(m[other]) < 0.35 * abs(m[key]), (other, m)


def edge_to_centre_flow(control: CameraControl, along: str) -> float:
    """How much faster the picture moves at the frame's edges than at its centre.

    A camera that turns (pan, tilt) sweeps the edges faster than the centre; one that slides
    (horizontal, vertical) moves every point alike.
    """
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in shoot(control)]
    edge = centre = 0.0
    for a, b in zip(gray, gray[1:], strict=False):
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        if along == "x":
            f = np.abs(flow[..., 0])
            edge += float(np.median(np.concatenate([f[:, : W // 7], f[:, -W // 7 :]], axis=1)))
            centre += float(np.median(f[:, 2 * W // 5 : 3 * W // 5]))
        else:
            f = np.abs(flow[..., 1])
            edge += float(np.median(np.concatenate([f[: H // 6], f[-H // 6 :]], axis=0)))
            centre += float(np.median(f[2 * H // 5 : 3 * H // 5]))
    return edge / centre


@pytest.mark.parametrize("sign", [+1, -1])
def test_pan_and_tilt_turn_the_camera_rather_than_slide_it(sign):
    pan, slide = (edge_to_centre_flow(simple(**{a: 6 * sign}), "x") for a in ("pan", "horizontal"))
    assert pan > slide + 0.12 and abs(slide - 1) < 0.05
    tilt, rise = (edge_to_centre_flow(simple(**{a: 6 * sign}), "y") for a in ("tilt", "vertical"))
    assert tilt > rise + 0.03 and abs(rise - 1) < 0.05


@pytest.mark.parametrize("axis", CAMERA_AXES)
def test_motion_grows_with_the_value(axis):
    key, _ = EXPECTED[axis]
    small, large = abs(motion(simple(**{axis: 3}))[key]), abs(motion(simple(**{axis: 9}))[key])
    assert large > 2.2 * small > 0


@pytest.mark.parametrize(
    ("preset", "expect"),
    [
        ("down_back", {"dy": -1, "radial": -1}),  # descends: content rises; backs off: shrinks
        ("forward_up", {"dy": +1, "radial": +1}),  # tilts up: content sinks; forward: grows
        ("right_turn_forward", {"dx": -1, "radial": +1}),
        ("left_turn_forward", {"dx": +1, "radial": +1}),
    ],
)
def test_presets_make_their_documented_moves(preset, expect):
    m = motion(CameraControl(type=preset))
    for key, direction in expect.items():
        assert m[key] * direction > 0.1, (key, m)
    assert abs(m["clockwise"]) < 0.1, m


@pytest.mark.parametrize(
    "control",
    [simple(**{a: s * 10}) for a in CAMERA_AXES for s in (1, -1)]
    + [CameraControl(type=p) for p in PRESETS],
    ids=lambda c: c.type if c.config is None else str(c.config),
)
def test_no_black_borders(control):
    for frame in shoot(control):
        edges = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
        assert edges.max(axis=1).min() > 10  # the backdrop never goes below 30


def _corners_inside(path: CameraPath, w: int, h: int, cw: int, ch: int, frames: int) -> bool:
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [w - 1, h - 1, 1], [0, h - 1, 1]], float).T
    for m in path.transforms(
        out_width=w, out_height=h, canvas_width=cw, canvas_height=ch, num_frames=frames
    ):
        q = m @ corners
        x, y = q[0] / q[2], q[1] / q[2]
        if x.min() < 0 or y.min() < 0 or x.max() > cw - 1 or y.max() > ch - 1:
            return False
    return True


def _mid_path_scale(path: CameraPath, w: int, h: int, cw: int, ch: int) -> float:
    middle = path.transforms(
        out_width=w, out_height=h, canvas_width=cw, canvas_height=ch, num_frames=3
    )[1]
    return abs(np.linalg.det(middle[:2, :2]) / middle[2, 2] ** 2) ** 0.5


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280), (720, 720), (1920, 1080)])
def test_overscan_holds_every_path_at_full_scale(size):
    w, h = size
    controls = [simple(**{a: s * 10}) for a in CAMERA_AXES for s in (1, -1)]
    controls += [CameraControl(type=p) for p in PRESETS]
    controls.append(simple(horizontal=5, zoom=3, tilt=-2))  # the seed's example
    for control in controls:
        path = plan_camera(control)
        cw, ch = round(w * path.overscan), round(h * path.overscan)
        assert _corners_inside(path, w, h, cw, ch, 120), control
        # mid-path, one output pixel spans at least one canvas pixel: never upsampled
        assert _mid_path_scale(path, w, h, cw, ch) >= 0.99, control
        # and with the overscan for this very size, no canvas is wasted either
        exact = path.overscan_for(w, h)
        assert 1.0 < exact <= path.overscan
        cw, ch = round(w * exact), round(h * exact)
        assert _corners_inside(path, w, h, cw, ch, 120), control
        assert 0.99 <= _mid_path_scale(path, w, h, cw, ch) <= 1.02, control


def test_any_canvas_size_is_used_without_leaving_it():
    path = plan_camera(simple(roll=10))
    for cw, ch in ((300, 170), (400, 400), (2000, 300)):
        assert _corners_inside(path, W, H, cw, ch, 24)
        frames = [np.full((ch, cw, 3), 200, np.uint8)] * 24
        out = list(path.apply(frames, out_width=W, out_height=H, num_frames=24))
        assert all(f.shape == (H, W, 3) and f.min() == 200 for f in out)


def test_plan_without_camera_is_static():
    for control in (None, simple(zoom=0)):
        path = plan_camera(control)
        assert path.is_static and path.overscan == 1.0 and path.prompt_phrase == ""


def test_static_path_passes_frames_through_untouched():
    frames = [np.random.default_rng(i).integers(0, 255, (H, W, 3), np.uint8) for i in range(3)]
    out = list(plan_camera(None).apply(iter(frames), out_width=W, out_height=H, num_frames=3))
    assert all(a is b for a, b in zip(out, frames, strict=True))


def test_static_path_fits_a_larger_canvas():
    small = np.random.default_rng(0).integers(0, 255, (H, W, 3), np.uint8)
    canvas = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)  # twice the size
    wide = np.pad(canvas, ((0, 0), (40, 40), (0, 0)))  # and wider: the sides are cropped off
    for frame in (canvas, wide):
        (out,) = plan_camera(None).apply([frame], out_width=W, out_height=H, num_frames=1)
        assert out.shape == (H, W, 3)
        assert np.abs(out.astype(int) - small).max() <= 1


def test_overscan_grows_with_the_value():
    for axis in CAMERA_AXES:
        scans = [plan_camera(simple(**{axis: v})).overscan for v in (1, 5, 10)]
        assert 1.0 < scans[0] < scans[1] < scans[2] <= 1.6, (axis, scans)


def test_prompt_phrases():
    assert plan_camera(simple(zoom=3)).prompt_phrase == "camera slowly zooms in"
    assert plan_camera(simple(horizontal=-5)).prompt_phrase == "camera moves left"
    assert plan_camera(simple(pan=9)).prompt_phrase == "camera quickly pans right"
    assert plan_camera(simple(roll=-2)).prompt_phrase == "camera slowly rolls counterclockwise"
    assert plan_camera(simple(tilt=4, zoom=-6)).prompt_phrase == "camera tilts up and zooms out"
    assert plan_camera(CameraControl(type="down_back")).prompt_phrase.startswith("camera descends")
    for preset, moves in PRESETS.items():
        path = plan_camera(CameraControl(type=preset))
        assert path.moves == moves and not path.is_static and path.overscan > 1


def test_more_frames_than_planned_is_an_error():
    path = plan_camera(simple(zoom=4))
    frames = [np.full((200, 300, 3), 100, np.uint8)] * 5
    with pytest.raises(ValueError, match="planned"):
        list(path.apply(frames, out_width=W, out_height=H, num_frames=4))


def test_frames_of_changing_size_are_an_error():
    path = plan_camera(simple(zoom=4))
    frames = [np.full((200, 300, 3), 100, np.uint8), np.full((202, 300, 3), 100, np.uint8)]
    with pytest.raises(ValueError, match="first"):
        list(path.apply(frames, out_width=W, out_height=H, num_frames=2))
