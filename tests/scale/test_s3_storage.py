"""S3 storage against an S3 endpoint (moto server): upload, presigned download, readiness."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from openkling.config import Settings
from openkling.storage.s3 import MAX_URL_SECONDS, S3Storage


def _settings(s3_settings: dict, **overrides) -> Settings:
    values = {k.removeprefix("OPENKLING_").lower(): v for k, v in s3_settings.items()}
    return Settings(**{**values, **overrides})


def test_put_and_presigned_download(s3_settings, tmp_path):
    storage = S3Storage.from_settings(_settings(s3_settings))  # creates the missing bucket
    storage.check()
    src = tmp_path / "clip.mp4"
    payload = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
    src.write_bytes(payload)

    storage.put_file("videos/a/clip.mp4", src, "video/mp4")
    url = storage.url("videos/a/clip.mp4", base_url="http://ignored", expires_in=120)

    assert url.startswith(s3_settings["OPENKLING_S3_ENDPOINT_URL"])
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["120"]
    resp = httpx.get(url, timeout=10)  # no credentials: the signature in the URL is enough
    assert resp.status_code == 200
    assert resp.content == payload
    assert resp.headers["content-type"] == "video/mp4"

    src.write_bytes(b"second version")  # put_file overwrites (a re-run writes the same key)
    storage.put_file("videos/a/clip.mp4", src, "video/mp4")
    assert httpx.get(url, timeout=10).content == b"second version"


def test_presigned_urls_are_capped_at_seven_days(s3_settings):
    storage = S3Storage.from_settings(_settings(s3_settings))
    url = storage.url("videos/x.mp4", base_url="", expires_in=30 * 24 * 3600)
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == [str(MAX_URL_SECONDS)]


def test_check_reports_a_missing_bucket(s3_settings):
    settings = _settings(s3_settings, s3_bucket=s3_settings["OPENKLING_S3_BUCKET"] + "-absent")
    storage = S3Storage.from_settings(settings, create_bucket=False)
    with pytest.raises(RuntimeError, match="404"):
        storage.check()


def test_check_reports_an_unreachable_endpoint(s3_settings):
    from .conftest import free_port

    settings = _settings(s3_settings, s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    storage = S3Storage.from_settings(settings)  # logs, does not raise: readiness reports it
    with pytest.raises(RuntimeError, match="unreachable"):
        storage.check()
