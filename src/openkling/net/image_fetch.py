"""Input images from the wire: base64 decoded, URLs fetched through the URL guard, then checked
with the image rules. Every door that takes an image reads it here."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Settings
from ..errors import InvalidParameter, OutboundError
from ..media.images import MAX_IMAGE_BYTES, InputImage, read_image
from . import guard

# what an image URL may answer with (some hosts label images as bytes)
IMAGE_TYPES = ("image/jpeg", "image/png", "image/jpg", "application/octet-stream")

ImageLoader = Callable[[str, str], InputImage]  # (field, base64 or URL) -> checked image


def image_loader(settings: Settings) -> ImageLoader:
    """Read one image field: base64 decoded here, URLs fetched through the URL guard."""
    timeout = settings.image_fetch_timeout_seconds
    allow = settings.url_allowlist

    def fetch(field: str, url: str) -> bytes:
        guard.check_url(url, field=field, allow=allow)  # literal addresses: refused before I/O
        try:
            fetched = guard.fetch(
                url,
                max_bytes=MAX_IMAGE_BYTES,
                timeout=timeout,
                content_types=IMAGE_TYPES,
                allow=allow,
            )
        except OutboundError as exc:  # refused or failed: its message is written for users
            raise InvalidParameter(f"{field}: {exc.message}") from None
        return fetched.content

    def load(field: str, value: str) -> InputImage:
        return read_image(value, field, fetch)

    return load
