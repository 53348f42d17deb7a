"""The engine interfaces: what the worker asks of a video or audio engine."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

StepCallback = Callable[[int, int], None]  # (steps done, steps total)
StopCheck = Callable[[], bool]  # True -> stop at the next step (raise GenerationCancelled)


@dataclass(frozen=True)
class Capabilities:
    """What an engine can honour. The worker and the catalog ask this, never engine names."""

    image_input: bool = False  # a first frame (image2video)
    end_frame: bool = False  # a last frame (image_tail)
    masks: bool = False  # static_mask / dynamic_masks
    audio: bool = False  # the engine makes its own soundtrack
    own_camera: bool = False  # the engine moves the camera itself: no camera path is applied
    camera_phrase: bool = False  # a phrase describing the camera move helps its prompt
    references: bool = False  # reference images guide the content (omni-video, multi-image)


@dataclass(frozen=True)
class RenderRequest:
    """One clip to render. ``width`` x ``height`` is the canvas (output size times overscan).

    Image inputs, when given, are already fitted to the canvas: ``image`` and ``image_tail``
    HxWx3 uint8, ``static_mask`` HxW bool, each dynamic mask an HxW bool region with its
    trajectory in canvas pixels. ``references`` are the pictures as given (any size).
    """

    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_frames: int
    fps: float
    cfg_scale: float  # Kling's 0..1 prompt adherence; the engine maps it to its guidance range
    seed: int
    image: np.ndarray | None = None
    image_tail: np.ndarray | None = None
    static_mask: np.ndarray | None = None
    dynamic_masks: list[tuple[np.ndarray, list[tuple[float, float]]]] = field(default_factory=list)
    # reference images (omni-video's refer_image, @image_1 ... in the prompt), each HxWx3
    # uint8 at its own size, in the prompt's order
    references: list[np.ndarray] = field(default_factory=list)
    look: str | None = None  # an effect scene's synthetic realisation (domain/effects.py)
    lora: str | None = None  # an effect scene's LoRA, by its name in the profile's `loras`
    extra: dict[str, Any] = field(default_factory=dict)


class VideoEngine(Protocol):
    """Makes frames. Knows nothing of tasks, HTTP, storage or cameras."""

    name: str
    capabilities: Capabilities

    def output_size(self, mode: str, aspect_ratio: str) -> tuple[int, int]:
        """Width, height of the delivered video for a Kling mode ("std"/"pro") and ratio."""
        ...

    def frame_plan(self, duration_s: float) -> tuple[int, float]:
        """Number of frames and fps for a clip of at least ``duration_s`` seconds."""
        ...

    def canvas_size(self, width: int, height: int) -> tuple[int, int]:
        """The nearest size at or above ``width`` x ``height`` the engine can render."""
        ...

    def render(
        self,
        request: RenderRequest,
        *,
        on_step: StepCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> Iterable[np.ndarray]:
        """Frames as HxWx3 uint8 arrays at the canvas size, ``num_frames`` of them."""
        ...


class AudioEngine(Protocol):
    """Makes a soundtrack of an exact length."""

    name: str

    def render(
        self, prompt: str, seconds: float, seed: int, sample_rate: int = 48000
    ) -> np.ndarray:
        """float32 array shaped (2, round(seconds * sample_rate)), values in [-1, 1]."""
        ...


@dataclass(frozen=True)
class PictureRequest:
    """One still picture to make (``/v1/images/generations``), at exactly ``width`` x ``height``.

    ``reference``, when given, is the reference image fitted to that size (HxWx3 uint8);
    ``image_fidelity`` (0..1) is how closely the picture keeps it, ``human_fidelity`` how
    closely a person's likeness is kept when ``reference_kind`` is "subject".
    """

    prompt: str
    negative_prompt: str
    width: int
    height: int
    seed: int
    index: int = 0  # which picture of the task this is (0-based)
    reference: np.ndarray | None = None
    reference_kind: str | None = None  # "subject" | "face" | None
    image_fidelity: float = 0.5
    human_fidelity: float = 0.45


class PictureEngine(Protocol):
    """Makes still pictures from text, and from a reference image when ``reference`` is true.
    Knows nothing of tasks, HTTP or storage."""

    name: str
    reference: bool  # whether it honours PictureRequest.reference

    def size(self, resolution: str, aspect_ratio: str) -> tuple[int, int]:
        """Width, height of a picture for Kling's resolution ("1k"/"2k") and aspect ratio."""
        ...

    def draw(
        self,
        request: PictureRequest,
        *,
        on_step: StepCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> np.ndarray:
        """One HxWx3 uint8 picture of exactly the requested size."""
        ...
