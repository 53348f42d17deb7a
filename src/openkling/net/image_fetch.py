"""Input images from the wire: base64 decoded, URLs fetched through the URL guard, then checked
with the image rules. Every door that takes an image reads it here.

A request's image work is bounded three ways:

* time: one deadline (``OPENKLING_IMAGE_FETCH_TIMEOUT_SECONDS``) covers all of the request's
  fetches together, enforced on the clock by the guard;
* pixels: the images one request decodes hold at most ``OPENKLING_IMAGE_PIXEL_BUDGET`` pixels
  together, judged from their headers before any pixel is decoded;
* threads: fetching and decoding run on ``ImagePool``, a pool of their own per API process, so
  they never hold the threads that answer other requests. A full pool, or an account holding
  its share of it, is answered 429 / 1302 at once.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import TypeVar

from anyio import CapacityLimiter, to_thread
from PIL import Image

from ..config import Settings
from ..errors import InvalidParameter, OutboundError, RateLimited
from ..media.images import MAX_IMAGE_BYTES, InputImage, check_image, read_source, sniff
from . import guard

# what an image URL may answer with (some hosts label images as bytes)
IMAGE_TYPES = ("image/jpeg", "image/png", "image/jpg", "application/octet-stream")

ImageLoader = Callable[[str, str], InputImage]  # (field, base64 or URL) -> checked image

T = TypeVar("T")


def image_loader(settings: Settings) -> ImageLoader:
    """Read a request's image fields: base64 decoded here, URLs fetched through the URL guard.

    Make one per request: its fetches share one deadline, counted from here, and its images
    one pixel budget."""
    budget = settings.image_fetch_timeout_seconds
    deadline = time.monotonic() + budget
    allow = settings.url_allowlist
    pixels_left = settings.image_pixel_budget

    def fetch(field: str, url: str) -> bytes:
        guard.check_url(url, field=field, allow=allow)  # literal addresses: refused before I/O
        try:
            fetched = guard.fetch(
                url,
                max_bytes=MAX_IMAGE_BYTES,
                timeout=budget,
                deadline=deadline,
                content_types=IMAGE_TYPES,
                allow=allow,
            )
        except OutboundError as exc:  # refused or failed: its message is written for users
            raise InvalidParameter(f"{field}: {exc.message}") from None
        return fetched.content

    def load(field: str, value: str) -> InputImage:
        nonlocal pixels_left
        data = read_source(value, field, fetch)
        pixels = declared_pixels(data)
        if pixels > pixels_left:
            total = settings.image_pixel_budget
            raise InvalidParameter(
                f"{field}: the request's images hold more than {total / 1e6:g} megapixels "
                f"together; at most {total / 1e6:g} megapixels per request"
            )
        pixels_left -= pixels
        return check_image(data, field)

    return load


def declared_pixels(data: bytes) -> int:
    """The pixels an image's header declares (0 when it is not one: the checks say why)."""
    if sniff(data) is None:
        return 0
    try:
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as opened:
            width, height = opened.size
    except Exception:  # unreadable: check_image answers it with its own message
        return 0
    return width * height


class ImagePool:
    """Threads for fetching and decoding images, apart from the request threads.

    ``workers`` run at once in this process; an account runs at most ``per_account`` of them.
    A call that finds no room is refused at once (429 / 1302 with ``Retry-After``), not
    queued: a queue of slow fetches would hold connections and memory for nothing."""

    def __init__(self, workers: int, per_account: int) -> None:
        self.workers = workers
        self.per_account = min(per_account, workers)
        self._limiter = CapacityLimiter(workers)
        self._busy = 0
        self._held: dict[object, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ImagePool:
        return cls(settings.image_workers, settings.image_workers_per_account)

    @property
    def busy(self) -> int:
        return self._busy

    async def run(self, account: object, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` on the pool for ``account`` (any hashable key), or refuse."""
        # no await between the check and the count: the event loop makes this atomic
        if self._held.get(account, 0) >= self.per_account:
            raise RateLimited(
                f"at most {self.per_account} requests with images are read at once per "
                "account; retry when one is answered"
            )
        if self._busy >= self.workers:
            raise RateLimited("the server is busy reading other requests' images; retry shortly")
        self._busy += 1
        self._held[account] = self._held.get(account, 0) + 1
        try:
            return await to_thread.run_sync(fn, *args, limiter=self._limiter)
        finally:
            self._busy -= 1
            left = self._held[account] - 1
            if left:
                self._held[account] = left
            else:
                del self._held[account]
