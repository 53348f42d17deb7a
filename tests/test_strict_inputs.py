"""Strict inputs: a data: URL is data (never a URL inside it), and a JPEG whose scan ends
before its declared size is refused as corrupt or truncated, not padded and charged as a
large picture."""

from __future__ import annotations

import base64

import pytest

from openkling.errors import InvalidParameter
from openkling.media.images import check_image
from pictures import encode, gradient, png_b64

T2V_OPENAI = "/v1/videos"


def lying_jpeg() -> bytes:
    """A 64x64 JPEG whose header claims 6000x4000."""
    data = bytearray(encode(gradient(64, 64, seed=1), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 7] = (4000).to_bytes(2, "big")
    data[sof + 7 : sof + 9] = (6000).to_bytes(2, "big")
    return bytes(data)


def cut_jpeg() -> bytes:
    """A 640x480 JPEG cut in the middle of its scan, closed with an end marker."""
    data = encode(gradient(640, 480, seed=2), "JPEG")
    return data[: len(data) // 2] + b"\xff\xd9"


@pytest.mark.parametrize("data", [lying_jpeg(), cut_jpeg()], ids=["lying size", "cut scan"])
def test_a_jpeg_whose_scan_ends_early_is_corrupt_or_truncated(data: bytes) -> None:
    with pytest.raises(InvalidParameter, match=r"^image: .*\(corrupt or truncated\)"):
        check_image(data, "image")


def test_a_whole_jpeg_is_read() -> None:
    image = check_image(encode(gradient(640, 480, seed=2), "JPEG"), "image")
    assert (image.width, image.height, image.format) == (640, 480, "jpeg")


def test_the_lying_jpeg_is_refused_at_create_and_nothing_is_charged(app_factory) -> None:  # type: ignore[no-untyped-def]
    server = app_factory(env={"OPENKLING_WORKERS": "0"})
    before = server.request("GET", "/account/costs").json()["data"]["balance"]
    image = base64.b64encode(lying_jpeg()).decode()
    response = server.request("POST", "/v1/videos/image2video", json={"image": image})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 1201
    assert "corrupt or truncated" in response.json()["message"]
    assert server.request("GET", "/account/costs").json()["data"]["balance"] == before


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("data:image/png;base64,http://127.0.0.1:9/a.png", "not valid base64"),
        ("data:image/png;base64,https://example.com/a.png", "not valid base64"),
        ("data:text/html;base64,PGh0bWw+", "data:image/png;base64"),
        ("data:image/png,plain", "data:image/png;base64"),
    ],
)
def test_openai_data_urls_are_data(app_factory, url: str, words: str) -> None:  # type: ignore[no-untyped-def]
    server = app_factory(env={"OPENKLING_WORKERS": "0", "OPENKLING_URL_ALLOW": "127.0.0.1/32"})
    body = {"prompt": "a red wall", "size": "1280x720", "input_reference": {"image_url": url}}
    response = server.request(
        "POST", T2V_OPENAI, json=body, headers={"Authorization": f"Bearer {server.secret_key}"}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "input_reference.image_url"
    assert words in error["message"]


def test_an_openai_data_url_with_an_image_is_read(app_factory) -> None:  # type: ignore[no-untyped-def]
    server = app_factory(env={"OPENKLING_WORKERS": "0"})
    url = "data:image/png;base64," + png_b64(1280, 720)
    body = {"prompt": "a red wall", "size": "1280x720", "input_reference": {"image_url": url}}
    response = server.request(
        "POST", T2V_OPENAI, json=body, headers={"Authorization": f"Bearer {server.secret_key}"}
    )
    assert response.status_code == 200, response.text
