"""Text-to-image through diffusers (Flux, Stable Diffusion 3), and image-to-image from a reference.

A family names its text-to-image pipeline and the image-to-image pipeline built from the same
loaded components (``from_pipe``: no second copy of the weights). A reference image is
redrawn at ``strength = 1 - image_fidelity``: fidelity 1 keeps it nearly as it is, 0 lets the
prompt take over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...domain.image_catalog import IMAGE_SIZES
from ...errors import EngineError, GenerationCancelled
from ..base import PictureRequest, StepCallback, StopCheck
from ..picture_profiles import PictureProfile
from .common import LoadSpec, StepHook, check_pipeline_dir, component_config
from .engine import PipelinePool, _free_memory, reset_pipeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PictureFamily:
    name: str
    pipeline: str  # the text-to-image class that loads the weights
    img2img: str  # the image-to-image class made from its components
    class_names: tuple[str, ...]  # model_index.json _class_name values accepted
    default_steps: int
    default_guidance: float
    negative_prompt: bool  # whether its pipelines take one (SD3) or ignore it (Flux)
    # (weights' model_index.json, weights dir) -> size multiple of width and height
    multiple: Callable[[dict[str, Any], Any], int]


def _vae_scale(weights: Any) -> int:
    blocks = component_config(weights, "vae").get("block_out_channels") or [0, 0, 0, 0]
    return 2 ** (len(blocks) - 1)


FLUX = PictureFamily(
    name="flux",
    pipeline="FluxPipeline",
    img2img="FluxImg2ImgPipeline",
    class_names=("FluxPipeline", "FluxImg2ImgPipeline"),
    default_steps=28,
    default_guidance=3.5,
    negative_prompt=False,
    multiple=lambda index, weights: _vae_scale(weights) * 2,  # latents packed 2x2
)
SD3 = PictureFamily(
    name="sd3",
    pipeline="StableDiffusion3Pipeline",
    img2img="StableDiffusion3Img2ImgPipeline",
    class_names=("StableDiffusion3Pipeline", "StableDiffusion3Img2ImgPipeline"),
    default_steps=28,
    default_guidance=7.0,
    negative_prompt=True,
    multiple=lambda index, weights: (
        _vae_scale(weights) * int(component_config(weights, "transformer").get("patch_size", 2))
    ),
)
PICTURE_FAMILIES: dict[str, PictureFamily] = {f.name: f for f in (FLUX, SD3)}


class DiffusersPictureEngine:
    """A PictureEngine over one diffusers text-to-image pipeline, per a deployment profile."""

    def __init__(self, profile: PictureProfile, family: PictureFamily, multiple: int, pool):
        assert profile.weights is not None
        self.name = f"diffusers-{family.name}"
        self.reference = profile.img2img
        self.profile = profile
        self.family = family
        self.multiple = multiple
        self.pool: PipelinePool = pool
        self.steps = profile.steps or family.default_steps
        self.guidance = family.default_guidance if profile.guidance is None else profile.guidance
        self.sizes = {res: dict(ratios) for res, ratios in IMAGE_SIZES.items()}
        for res, ratios in profile.resolution.items():
            self.sizes[res].update(ratios)
        self.spec = LoadSpec(
            pipeline=family.pipeline,
            weights=profile.weights,
            device=profile.device,
            dtype=profile.dtype,
            cpu_offload=profile.cpu_offload,
            vae_tiling=profile.vae_tiling,
        )

    @classmethod
    def from_profile(cls, profile: PictureProfile, pool) -> DiffusersPictureEngine:
        """Check the weights' structure and the profile's sizes now; load the weights later."""
        assert profile.family is not None and profile.weights is not None
        family = PICTURE_FAMILIES[profile.family]
        index = check_pipeline_dir(None, profile.weights, family.class_names, family.pipeline)
        multiple = family.multiple(index, profile.weights)
        for res, ratios in profile.resolution.items():
            for ratio, (width, height) in ratios.items():
                if width % multiple or height % multiple:
                    raise profile.error(
                        f'resolution."{res}"."{ratio}" = [{width}, {height}]: these {family.name} '
                        f"weights need width and height in multiples of {multiple}"
                    )
        return cls(profile, family, multiple, pool)

    def size(self, resolution: str, aspect_ratio: str) -> tuple[int, int]:
        return self.sizes[resolution][aspect_ratio]

    def preload(self) -> None:
        with self.pool.lock:
            self.pool.get(self.spec)

    def draw(
        self,
        request: PictureRequest,
        *,
        on_step: StepCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> np.ndarray:
        import torch
        from PIL import Image

        width, height = request.width, request.height
        if width % self.multiple or height % self.multiple:
            raise EngineError(
                f"{self.name}: {width}x{height} is not a multiple of {self.multiple}; set "
                f'[images."{self.profile.model}"].resolution to sizes that are'
            )
        hook = StepHook(self.steps, on_step, should_stop)
        args: dict[str, Any] = {
            "prompt": request.prompt,
            "width": width,
            "height": height,
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance,
            "generator": torch.Generator("cpu").manual_seed(request.seed),
            "output_type": "np",
            "callback_on_step_end": hook,
        }
        if self.family.negative_prompt and request.negative_prompt:
            args["negative_prompt"] = request.negative_prompt
        if self.profile.max_sequence_length:
            args["max_sequence_length"] = self.profile.max_sequence_length
        if request.reference is not None:
            args["image"] = Image.fromarray(request.reference)
            args["strength"] = self.strength(request.image_fidelity)
        args.update(self.profile.pipeline_args)
        with self.pool.lock:
            if should_stop is not None and should_stop():
                raise GenerationCancelled("cancelled before generation started")
            pipe = self.pool.get(self.spec)
            if request.reference is not None:
                pipe = self._image_to_image(pipe)
            try:
                output = pipe(**args)
            except Exception as exc:
                reset_pipeline(pipe)
                if exc is hook.raised:  # the caller's own: cancelled, timed out, lease lost
                    raise
                if isinstance(exc, torch.cuda.OutOfMemoryError):
                    _free_memory()
                    raise EngineError(
                        f"out of GPU memory making a {width}x{height} picture with "
                        f'{type(pipe).__name__}: set cpu_offload = "model" or vae_tiling = true'
                    ) from exc
                name = type(pipe).__name__
                raise EngineError(f"{name} failed: {type(exc).__name__}: {exc}") from exc
        images = np.asarray(output.images, dtype=np.float32)
        picture = (np.clip(images[0], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        if picture.shape != (height, width, 3):
            raise EngineError(
                f"{type(pipe).__name__} returned a picture of {picture.shape}, "
                f"expected {(height, width, 3)}"
            )
        return picture

    def strength(self, image_fidelity: float) -> float:
        """How much of the reference is redrawn: 1 - fidelity, at least one step's worth."""
        fidelity = min(max(image_fidelity, 0.0), 1.0)
        return min(1.0, max(1.0 - fidelity, 1.0001 / self.steps))

    def _image_to_image(self, pipe: Any) -> Any:
        """The image-to-image pipeline over ``pipe``'s loaded components (made per call, cheap:
        keeping it would keep an evicted pipeline's weights alive)."""
        import diffusers

        twin = getattr(diffusers, self.family.img2img).from_pipe(pipe)
        twin.set_progress_bar_config(disable=True)
        return twin
