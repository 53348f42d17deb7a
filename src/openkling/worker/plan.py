"""Plan a render: sizes, frames, shots, seeds and camera for one request on one engine (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..domain.request import GenerationRequest
from ..domain.vocabulary import ASPECT_RATIOS
from ..engines.base import VideoEngine
from ..errors import EngineError
from .camera import CameraPath, plan_camera

SEED_STRIDE = 1_000_003  # shot i renders with seed + i * SEED_STRIDE (mod 2**31)


@dataclass(frozen=True)
class ShotPlan:
    """One shot: ``num_frames`` frames kept from ``render_frames`` rendered (an engine's frame
    rule may round up), starting at ``start_frame`` of the video."""

    prompt: str
    num_frames: int
    render_frames: int
    start_frame: int
    seed: int


@dataclass(frozen=True)
class RenderPlan:
    engine: str
    width: int  # delivered size
    height: int
    canvas_w: int  # rendered size (overscanned for the camera path)
    canvas_h: int
    fps: float
    num_frames: int
    shots: tuple[ShotPlan, ...]
    camera: CameraPath
    camera_type: str | None
    negative_prompt: str
    cfg_scale: float
    seed: int
    audio: bool
    audio_prompt: str
    watermark: bool

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


def nearest_ratio(width: int, height: int) -> str:
    """The aspect ratio of ours nearest to an image's (compared on a log scale)."""

    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(math.log((width / height) / (w / h)))

    return min(ASPECT_RATIOS, key=distance)


def output_size(request: GenerationRequest, engine: VideoEngine) -> tuple[int, int]:
    if request.size is not None:
        return request.size
    ratio = request.aspect_ratio
    if ratio is None:
        image = request.image or request.image_tail
        ratio = nearest_ratio(image.width, image.height) if image else "16:9"
    return engine.output_size(request.mode, ratio)


def plan_shots(
    request: GenerationRequest, engine: VideoEngine, seed: int
) -> tuple[tuple[ShotPlan, ...], float]:
    """The shots and the frame rate. One shot keeps the engine's own frame count; several are
    cut to exact lengths so each starts at its own time."""
    if not request.shots:
        frames, fps = engine.frame_plan(request.duration)
        return (ShotPlan(request.prompt, frames, frames, 0, seed),), fps
    _, fps = engine.frame_plan(request.duration)
    shots: list[ShotPlan] = []
    start, elapsed = 0, 0.0
    for index, shot in enumerate(request.shots):
        # each shot starts on the frame nearest its start time (no drift at a fractional fps)
        elapsed += shot.duration
        keep = max(1, round(elapsed * fps) - start)
        render = max(keep, engine.frame_plan(shot.duration)[0])
        shot_seed = (seed + index * SEED_STRIDE) % 2**31
        shots.append(ShotPlan(shot.prompt, keep, render, start, shot_seed))
        start += keep
    return tuple(shots), fps


def check_inputs(request: GenerationRequest, engine: VideoEngine) -> None:
    """Refuse (``EngineError``) image inputs the engine cannot honour, rather than ignore them:
    the API checks the catalog at create, but a profile may change before the task runs."""
    caps = engine.capabilities
    wanted = [
        ("an input image", request.has_image, caps.image_input),
        ("an end frame", request.image is not None and request.image_tail is not None,
         caps.end_frame),
        ("masks", request.static_mask is not None or bool(request.dynamic_masks), caps.masks),
        ("reference images", bool(request.references), caps.references),
        ("a video to continue", request.parent is not None, caps.image_input),
    ]  # fmt: skip
    for what, asked, honoured in wanted:
        if asked and not honoured:
            raise EngineError(
                f"the {engine.name} engine of {request.model_name} cannot honour {what}"
            )


def plan_render(request: GenerationRequest, engine: VideoEngine, *, seed: int) -> RenderPlan:
    """Everything the worker needs to render ``request`` on ``engine``; no side effects."""
    width, height = output_size(request, engine)
    shots, fps = plan_shots(request, engine, seed)
    camera = plan_camera(request.camera_control)
    if engine.capabilities.own_camera:
        camera = plan_camera(None)
    overscan = camera.overscan_for(width, height)
    canvas_w, canvas_h = engine.canvas_size(
        math.ceil(width * overscan), math.ceil(height * overscan)
    )
    if canvas_w < width * overscan or canvas_h < height * overscan:
        # an engine with one fixed size (CogVideoX-5b-I2V): the camera crops inside it, so
        # the delivered video is smaller by the overscan (even sizes, for H.264)
        scale = min(canvas_w / (width * overscan), canvas_h / (height * overscan))
        width, height = (max(2, int(v * scale) // 2 * 2) for v in (width, height))
    if camera.prompt_phrase and engine.capabilities.camera_phrase:
        shots = tuple(replace(s, prompt=f"{s.prompt}, {camera.prompt_phrase}") for s in shots)
    prompts = [s.prompt for s in request.shots] or [request.prompt]
    return RenderPlan(
        engine=engine.name,
        width=width,
        height=height,
        canvas_w=canvas_w,
        canvas_h=canvas_h,
        fps=fps,
        num_frames=sum(s.num_frames for s in shots),
        shots=shots,
        camera=camera,
        camera_type=request.camera_control.type if request.camera_control else None,
        negative_prompt=request.negative_prompt,
        cfg_scale=request.cfg_scale,
        seed=seed,
        audio=request.sound,
        audio_prompt=" ".join(p for p in prompts if p),
        watermark=request.watermark,
    )
