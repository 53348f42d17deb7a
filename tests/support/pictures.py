"""Test pictures: PNG/JPEG bytes with known content, masks, and how to compare frames."""

from __future__ import annotations

import base64
import functools
import hashlib
import io

import numpy as np
from PIL import Image


def gradient(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth, textured picture: gradients plus soft blobs (survives resizing well). The
    same arguments give the same picture; each call returns its own copy."""
    return _gradient(width, height, seed).copy()


@functools.lru_cache(maxsize=64)
def _gradient(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 60 + 150 * x / width
    g = 60 + 150 * y / height
    b = 128 + 60 * np.sin(x / width * 6.0 + seed) * np.cos(y / height * 4.0)
    picture = np.stack([r, g, b], axis=-1)
    for _ in range(5):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(0.08, 0.2) * min(width, height)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2))
        picture += blob[..., None] * rng.uniform(-60, 60, size=3)
    return np.clip(picture, 0, 255).astype(np.uint8)


def encode(array: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    """The picture's bytes in ``fmt``. Encoding a big picture costs far more than hashing it,
    so the same pixels with the same options are encoded once per process."""
    pixels = np.ascontiguousarray(array)
    digest = hashlib.blake2b(memoryview(pixels).cast("B"), digest_size=16).hexdigest()
    key = (pixels.shape, str(pixels.dtype), digest, fmt, repr(sorted(kw.items())))
    data = _ENCODED.get(key)
    if data is None:
        if len(_ENCODED) >= 64:
            _ENCODED.clear()
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, format=fmt, **kw)
        data = _ENCODED[key] = out.getvalue()
    return data


_ENCODED: dict[tuple, bytes] = {}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png_b64(width: int, height: int, seed: int = 0) -> str:
    return b64(encode(gradient(width, height, seed)))


def resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize((width, height), Image.Resampling.LANCZOS))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def decode_frames(data: bytes) -> list[np.ndarray]:
    import av

    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
