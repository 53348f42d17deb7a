"""What the neighbouring Kling doors (video-extend, multi-image2video, effects) share."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...domain.request import ImageInput
from ...media.images import InputImage, input_key


@dataclass
class DoorParse:
    """The input files a request names, to be stored with its task."""

    files: dict[str, InputImage] = field(default_factory=dict)  # storage key -> image

    def add(self, stem: str, image: InputImage) -> ImageInput:
        """Keep ``image`` as an input of the task; what the request records of it."""
        key = input_key(stem, image)
        self.files[key] = image
        return ImageInput(key=key, width=image.width, height=image.height)
