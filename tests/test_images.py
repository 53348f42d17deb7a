"""Input image rules: base64 and URL sources, formats, sizes, aspect, EXIF, oversized canvases."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from openkling.errors import InvalidParameter
from openkling.media.images import (
    MAX_IMAGE_BYTES,
    check_image,
    read_image,
    read_source,
    to_mask,
    to_rgb,
)
from pictures import b64, encode, gradient


def no_fetch(field: str, url: str) -> bytes:
    raise AssertionError(f"{field}: {url} must not be fetched")


def refused(value: str, fetch=no_fetch) -> str:
    with pytest.raises(InvalidParameter) as info:
        read_image(value, "image", fetch)
    assert info.value.code == 1201
    assert info.value.message.startswith("image: ")
    return info.value.message


def test_a_png_and_a_jpeg_pass_with_their_sizes():
    png = read_image(b64(encode(gradient(640, 360))), "image", no_fetch)
    assert (png.format, png.width, png.height, png.content_type) == ("png", 640, 360, "image/png")
    jpeg = read_image(b64(encode(gradient(360, 640), "JPEG")), "image", no_fetch)
    assert (jpeg.format, jpeg.width, jpeg.height) == ("jpeg", 360, 640)
    # line breaks inside base64 (MIME style) are tolerated
    wrapped = "\n".join(b64(png.data)[i : i + 76] for i in range(0, len(b64(png.data)), 76))
    assert read_image(wrapped, "image", no_fetch).data == png.data


def test_a_data_url_prefix_is_refused_and_explained():
    message = refused("data:image/png;base64," + b64(encode(gradient(400, 400))))
    assert "data:" in message and "after the comma" in message
    assert "data:image/png;base64," in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("file:///etc/passwd", "file: URL is not allowed"),
        ("ftp://example.com/a.png", "ftp: URL is not allowed"),
        ("gopher://example.com/", "gopher: URL is not allowed"),
        ("not base64 at all!", "neither an http(s) URL nor valid base64"),
        ("   ", "is empty"),
    ],
)
def test_other_schemes_and_garbage_are_refused(value, expected):
    assert expected in refused(value)


def test_urls_go_to_the_fetcher_and_its_bytes_are_checked():
    seen = []
    data = encode(gradient(500, 400))

    def fetch(field, url):
        seen.append((field, url))
        return data

    image = read_image("https://images.example/cat.png", "image", fetch)
    assert seen == [("image", "https://images.example/cat.png")]
    assert (image.width, image.height) == (500, 400)
    assert "GIF" in refused("https://x.example/a.gif", lambda f, u: b"GIF89a" + b"\0" * 64)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GIF89a" + bytes(200), "must be a JPG or PNG file; got a GIF file"),
        (b"<html><body>not found</body></html>", "got text/HTML"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "got a RIFF (WebP?)"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "not a readable PNG"),
        (b"\xff\xd8\xff\xe0" + bytes(40), "not a readable JPEG"),
    ],
)
def test_wrong_types_and_broken_files_are_refused(data, expected):
    assert expected in refused(b64(data))


def test_each_side_at_least_300_and_aspect_within_2_5():
    assert "299x400; each side must be at least 300 px" in refused(b64(encode(gradient(299, 400))))
    assert "aspect 2.60:1" in refused(b64(encode(gradient(780, 300))))
    assert "between 1:2.5 and 2.5:1" in refused(b64(encode(gradient(300, 751))))
    read_image(b64(encode(gradient(750, 300))), "image", no_fetch)  # exactly 2.5:1 passes


def test_more_than_10_mb_is_refused_before_decoding():
    noise = np.random.default_rng(1).integers(0, 256, (2000, 2000, 3), dtype=np.uint8)
    big = encode(noise)  # incompressible: about 12 MB
    assert len(big) > MAX_IMAGE_BYTES
    assert "at most 10 MB" in refused(b64(big))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims a huge canvas: a decompression bomb's first bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_huge_canvas_in_a_small_file_is_refused_without_decoding():
    bomb = _png_header_only(9000, 9000)  # 81 megapixels: more than the 40 allowed
    assert len(bomb) < 2000
    message = refused(b64(bomb))
    assert "9000x9000" in message and "at most 40 megapixels" in message
    assert "megapixels" in refused(b64(_png_header_only(60000, 60000)))


def test_exif_orientation_is_applied():
    landscape = gradient(640, 400)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = io.BytesIO()
    Image.fromarray(landscape).save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    image = check_image(out.getvalue(), "image")
    assert (image.width, image.height) == (400, 640)  # portrait, as a viewer shows it
    pixels = to_rgb(image.data)
    assert pixels.shape == (640, 400, 3)
    expected = np.rot90(landscape, k=-1)
    assert np.abs(pixels.astype(int) - expected.astype(int)).mean() < 6


def test_masks_read_alpha_or_brightness():
    grey = np.zeros((300, 400), np.uint8)
    grey[100:200, 150:250] = 255
    mask = to_mask(encode(grey))
    assert mask.shape == (300, 400) and mask.sum() == 100 * 100 and mask[150, 200]
    rgba = np.zeros((300, 400, 4), np.uint8)
    rgba[50:60, 10:30, 3] = 255  # painted (opaque) black strokes on a transparent sheet
    assert to_mask(encode(rgba)).sum() == 10 * 20


def test_read_source_returns_the_bytes_as_given():
    data = encode(gradient(300, 300))
    assert read_source(b64(data), "image_tail", no_fetch) == data
