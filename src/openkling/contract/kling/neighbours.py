"""What the neighbouring Kling doors (video-extend, multi-image2video, effects) share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...domain.request import GenerationRequest, ImageInput
from ...media.images import InputImage, input_key

# (field, value) -> a checked image; raises InvalidParameter naming the field
ImageLoader = Callable[[str, str], InputImage]


@dataclass
class DoorParse:
    """A parsed request and the input files it names, to be stored with the task."""

    request: GenerationRequest
    files: dict[str, InputImage] = field(default_factory=dict)  # storage key -> image

    def add(self, stem: str, image: InputImage) -> ImageInput:
        """Keep ``image`` as an input of the task; what the request records of it."""
        key = input_key(stem, image)
        self.files[key] = image
        return ImageInput(key=key, width=image.width, height=image.height)
