"""The normalised generation request stored on every task, whichever door it came through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from .vocabulary import CAMERA_TYPES, DEFAULT_MODEL, IMAGE_REFERENCES, IMAGE_RESOLUTIONS, MODES


class InputFile(Protocol):
    """An input file a request brings (an image): stored with the task under its key."""

    @property
    def data(self) -> bytes: ...

    @property
    def content_type(self) -> str: ...


class CameraConfig(BaseModel):
    """How far the camera moves along each axis, from -10 to 10 (Kling's scale)."""

    model_config = ConfigDict(frozen=True)
    horizontal: float = Field(default=0.0, ge=-10, le=10)
    vertical: float = Field(default=0.0, ge=-10, le=10)
    pan: float = Field(default=0.0, ge=-10, le=10)
    tilt: float = Field(default=0.0, ge=-10, le=10)
    roll: float = Field(default=0.0, ge=-10, le=10)
    zoom: float = Field(default=0.0, ge=-10, le=10)


class CameraControl(BaseModel):
    """A camera move: a named preset, or ``simple`` with its axes."""

    model_config = ConfigDict(frozen=True)
    type: Literal[CAMERA_TYPES]  # type: ignore[valid-type]
    config: CameraConfig | None = Field(default=None, description="with type 'simple' only")


class ImageInput(BaseModel):
    """An input image, decoded, checked and stored with the task under ``key``."""

    model_config = ConfigDict(frozen=True)
    key: str
    width: int
    height: int


class Point(BaseModel):
    model_config = ConfigDict(frozen=True)
    x: float
    y: float


class DynamicMask(BaseModel):
    """A region (``mask``) that travels along ``trajectory``, in input-image pixels."""

    model_config = ConfigDict(frozen=True)
    mask: ImageInput
    trajectory: list[Point]


class Shot(BaseModel):
    """One shot of a multi-shot video: its own prompt and length in seconds."""

    model_config = ConfigDict(frozen=True)
    prompt: str
    duration: float


class ParentVideo(BaseModel):
    """The video an extension continues: a succeeded task's video, as it was at create."""

    model_config = ConfigDict(frozen=True)
    task_id: str
    video_id: str
    key: str  # its MP4 in storage (the parent's file: never removed with the extension)
    duration: float
    width: int
    height: int
    fps: float
    num_frames: int


class EffectRender(BaseModel):
    """How an effect scene is realised: its name, the synthetic look, the LoRA by name."""

    model_config = ConfigDict(frozen=True)
    scene: str
    look: str = "drift"
    lora: str | None = None
    dual: bool = False  # the image is two pictures stitched left | right


class GenerationRequest(BaseModel):
    """A validated request in openkling's own terms. Wire formats parse into it; the worker
    plans a render from it. Older tasks stored fewer fields: every new field has a default."""

    model_config = ConfigDict(frozen=True)
    model_name: str = DEFAULT_MODEL
    prompt: str = ""
    negative_prompt: str = ""
    duration: int = 5  # seconds
    aspect_ratio: str | None = "16:9"  # None: the aspect of the input image
    mode: Literal[MODES] = "std"  # type: ignore[valid-type]
    cfg_scale: float = 0.5
    camera_control: CameraControl | None = None
    sound: bool = False
    callback_url: str | None = None
    external_task_id: str | None = None
    image: ImageInput | None = None
    image_tail: ImageInput | None = None
    static_mask: ImageInput | None = None
    dynamic_masks: list[DynamicMask] = Field(default_factory=list)
    shots: list[Shot] = Field(default_factory=list)  # [] is one shot of `prompt`
    # reference images (Kling's refer_image, named @image_1, ... in the prompt; the pictures of
    # multi-image2video), in order
    references: list[ImageInput] = Field(default_factory=list)
    watermark: bool = False
    size: tuple[int, int] | None = None  # exact output width x height; None: the engine's
    seed: int | None = None  # a fixed seed (a remix); None: a random one at create
    remix_of: str | None = None  # the task this one remixes (presentation only)
    # a door's own values for what it mapped into the fields above, e.g. OpenAI's
    # {"model": "sora-2", "size": "1280x720"} (presentation only)
    wire: dict[str, str] = Field(default_factory=dict)
    parent: ParentVideo | None = None  # video-extend: the video this one continues
    effect: EffectRender | None = None  # effects: the scene realised over ``image``
    credits: float | None = None  # a door's own price (an effect scene's); None: the model's
    # what the task makes: videos, or still images (/v1/images/generations)
    output: Literal["video", "image"] = "video"
    n: int = 1  # how many outputs; each holds one concurrency slot while the task runs
    # images only: the size class, and how the reference ``image`` guides the pictures
    resolution: Literal[IMAGE_RESOLUTIONS] | None = None  # type: ignore[valid-type]
    image_reference: Literal[IMAGE_REFERENCES] | None = None  # type: ignore[valid-type]
    image_fidelity: float = 0.5  # 0..1: how closely the pictures keep the reference
    human_fidelity: float = 0.45  # 0..1: with image_reference "subject", the person's likeness

    @property
    def has_image(self) -> bool:
        """Whether the video starts from (or ends at) an input image."""
        return self.image is not None or self.image_tail is not None

    @property
    def makes_images(self) -> bool:
        """Whether the task makes still images rather than a video."""
        return self.output == "image"

    def input_keys(self) -> list[str]:
        """Storage keys of every input file stored with the task."""
        images = [self.image, self.image_tail, self.static_mask]
        images += [m.mask for m in self.dynamic_masks]
        images += self.references
        return [image.key for image in images if image is not None]


@dataclass(frozen=True)
class Parsed:
    """What a door's parse hands to ``TaskService.submit``: the normalised request, and the
    input files it names (storage key -> file), stored only once every check has passed."""

    request: GenerationRequest
    inputs: Mapping[str, InputFile] = field(default_factory=dict)
