"""Input images for image2video: read base64 or a guarded URL, check Kling's rules, decode."""

from __future__ import annotations

import base64
import binascii
import io
import re
import secrets
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import av
import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InvalidParameter

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # Kling: at most 10 MB
MIN_SIDE = 300  # Kling: each side at least 300 px
MAX_ASPECT = 2.5  # Kling: between 1:2.5 and 2.5:1
MAX_PIXELS = 40_000_000  # decoding stops here: a small file may claim a huge canvas
FORMATS = {"png": "image/png", "jpeg": "image/jpeg"}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_BASE64 = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")

# (field, url) -> the response body; raises InvalidParameter naming the field when refused
Fetcher = Callable[[str, str], bytes]


@dataclass(frozen=True)
class InputImage:
    """A checked input image: its file bytes as given, format, and size after EXIF rotation."""

    data: bytes
    format: str  # "png" | "jpeg"
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return FORMATS[self.format]

    @property
    def extension(self) -> str:
        return "png" if self.format == "png" else "jpg"


def _bad(field: str, message: str) -> InvalidParameter:
    return InvalidParameter(f"{field}: {message}")


def read_source(value: str, field: str, fetch: Fetcher) -> bytes:
    """The bytes behind an image field: raw base64, or an http(s) URL fetched through ``fetch``."""
    text = value.strip()
    if not text:
        raise _bad(field, "is empty; send an http(s) URL or raw base64 of a JPG or PNG file")
    if text[:5].lower() == "data:":
        comma = text.find(",", 0, 100)
        head = text[: comma + 1 if comma > 0 else 30][:60]
        raise _bad(
            field,
            f"must be raw base64 with no data: prefix (got '{head}...'); "
            "send only the part after the comma",
        )
    if _SCHEME.match(text):
        scheme = text.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise _bad(
                field,
                f"a {scheme}: URL is not allowed; send an http(s) URL or raw base64 of a "
                "JPG or PNG file",
            )
        return fetch(field, text)
    return _decode_base64(text, field)


def _decode_base64(text: str, field: str) -> bytes:
    raw = "".join(text.split()).encode("ascii", "replace")  # line breaks are tolerated
    if len(raw) * 3 // 4 > MAX_IMAGE_BYTES + 2:
        raise _too_large(field, len(raw) * 3 // 4)
    if len(raw) % 4 or not _BASE64.match(raw):
        raise _bad(
            field,
            "is neither an http(s) URL nor valid base64 (standard alphabet A-Z a-z 0-9 + /, "
            "padded with =)",
        )
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(field, "is not valid base64") from None


def _too_large(field: str, size: int) -> InvalidParameter:
    return _bad(
        field, f"the image is {size / 1e6:.1f} MB; at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB"
    )


def sniff(data: bytes) -> str | None:
    """The file's format by its first bytes: "png", "jpeg" or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def _describe(data: bytes) -> str:
    known = {
        b"GIF8": "a GIF",
        b"RIFF": "a RIFF (WebP?)",
        b"BM": "a BMP",
        b"II*\x00": "a TIFF",
        b"MM\x00*": "a TIFF",
        b"<": "text/HTML",
        b"%PDF": "a PDF",
    }
    for magic, name in known.items():
        if data.startswith(magic):
            return f"{name} file"
    if data[4:12] in (b"ftypavif", b"ftypheic", b"ftypmif1"):
        return "an AVIF/HEIC file"
    return "not an image file" if data else "empty"


def open_image(data: bytes, field: str) -> Image.Image:
    """Decode a JPG or PNG safely (size checked before pixels are decoded), EXIF applied."""
    fmt = sniff(data)
    if fmt is None:
        raise _bad(field, f"must be a JPG or PNG file; got {_describe(data[:16])}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=["PNG" if fmt == "png" else "JPEG"])
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise _bad(
                    field,
                    f"the image is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
                    f"at most {MAX_PIXELS // 1_000_000} megapixels",
                )
            if fmt == "jpeg":
                _verify_jpeg(data, field, fmt)
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except InvalidParameter:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bad(
            field,
            f"the image claims a canvas over {MAX_PIXELS // 1_000_000} megapixels; at most "
            f"{MAX_PIXELS // 1_000_000} megapixels",
        ) from None
    except (
        OSError,
        SyntaxError,
        ValueError,
        UnidentifiedImageError,
        EOFError,
    ):
        raise _bad(field, f"is not a readable {fmt.upper()} file (corrupt or truncated)") from None
    return image


def _corrupt(field: str, fmt: str) -> InvalidParameter:
    return _bad(field, f"is not a readable {fmt.upper()} file (corrupt or truncated)")


def _verify_jpeg(data: bytes, field: str, fmt: str) -> None:
    """Refuse a JPEG whose scan ends before its declared size. Pillow's decoder (libjpeg)
    fills the missing part in silently, so that a small file could pass for a huge picture;
    FFmpeg's, told to stop at the first error, says so."""
    codec = av.CodecContext.create("mjpeg", "r")
    codec.options = {"err_detect": "explode"}
    try:
        frames = [*codec.decode(av.Packet(data)), *codec.decode(None)]
    except av.error.InvalidDataError:
        raise _corrupt(field, fmt) from None
    except av.error.FFmpegError:  # a JPEG variant FFmpeg does not read: Pillow decides
        return
    if not frames:
        raise _corrupt(field, fmt)


def check_image(data: bytes, field: str) -> InputImage:
    """Kling's rules for an input image: JPG/PNG, <= 10 MB, sides >= 300 px, aspect <= 2.5."""
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_large(field, len(data))
    image = open_image(data, field)
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise _bad(
            field, f"the image is {width}x{height}; each side must be at least {MIN_SIDE} px"
        )
    ratio = width / height
    if not 1 / MAX_ASPECT <= ratio <= MAX_ASPECT:
        raise _bad(
            field,
            f"the image is {width}x{height} (aspect {ratio:.2f}:1); the aspect ratio must be "
            f"between 1:{MAX_ASPECT} and {MAX_ASPECT}:1",
        )
    return InputImage(data=data, format=sniff(data) or "png", width=width, height=height)


def read_image(value: str, field: str, fetch: Fetcher) -> InputImage:
    """One image field, from base64 or URL, checked."""
    return check_image(read_source(value, field, fetch), field)


def input_key(stem: str, image: InputImage) -> str:
    """A fresh storage key for an input file; the request names it, so it is made before the
    task exists, and removed again if the task is not created."""
    return f"inputs/{secrets.token_hex(12)}/{stem}.{image.extension}"


# ---- pixels, for engines ----------------------------------------------------------------------


def to_rgb(data: bytes) -> np.ndarray:
    """HxWx3 uint8 pixels of a stored input (EXIF applied, alpha composited on white)."""
    image = open_image(data, "image")
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return np.asarray(image.convert("RGB"))


def to_mask(data: bytes) -> np.ndarray:
    """HxW bool of a stored mask: opaque light pixels are in the mask. With an alpha channel,
    the opaque pixels are; without one, those brighter than mid grey."""
    image = open_image(data, "mask")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        alpha = np.asarray(image.convert("RGBA"))[:, :, 3]
        if alpha.min() < 128:
            return alpha >= 128
    return np.asarray(image.convert("L")) >= 128


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover ``width`` x ``height`` and centre-crop: the image fitted to the output."""
    h, w = image.shape[:2]
    k = max(width / w, height / h)
    cw, ch = min(w, round(width / k)), min(h, round(height / k))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    crop = image[y0 : y0 + ch, x0 : x0 + cw]
    if crop.dtype == bool:
        resized = cv2.resize(
            crop.astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_LINEAR
        )
        return resized >= 128
    interpolation = cv2.INTER_AREA if cw >= width else cv2.INTER_CUBIC
    return cv2.resize(crop, (width, height), interpolation=interpolation)
