"""Helpers for SDK tests: a replay of the official Kling host, and an MP4 check with PyAV."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import av
import httpx
import pytest

from openkling.client import AsyncKling, Kling, RetryPolicy

FIXTURES = Path(__file__).parent / "fixtures"
OFFICIAL = "https://api-singapore.klingai.com"
ACCESS_KEY = "ak-7d1f0e3c9b2a4f5e8d6c"
SECRET_KEY = "sk-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
NO_WAIT = RetryPolicy(max_retries=2, base_delay=0.0, max_retry_after=0.0)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def replay(name: str) -> httpx.Response:
    """A recorded response (written from Kling's public API reference) as httpx serves it."""
    fx = fixture(name)
    if "json" in fx:
        return httpx.Response(fx["status"], headers=fx["headers"], json=fx["json"])
    return httpx.Response(fx["status"], headers=fx["headers"], text=fx["text"])


class OfficialHost:
    """The official host, replayed: routes (method, path) to fixture names served in order
    (the last one repeats), and records every request it gets."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[str]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *names: str) -> None:
        self.routes[(method, path)] = list(names)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        return replay(queue.pop(0) if len(queue) > 1 else queue[0])

    def client(self, **kwargs) -> Kling:
        kwargs.setdefault("retry", NO_WAIT)
        return Kling(
            base_url=kwargs.pop("base_url", OFFICIAL),
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            http_client=httpx.Client(transport=httpx.MockTransport(self.handler)),
            **kwargs,
        )

    def async_client(self, **kwargs) -> AsyncKling:
        kwargs.setdefault("retry", NO_WAIT)
        return AsyncKling(
            base_url=kwargs.pop("base_url", OFFICIAL),
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(self.handler)),
            **kwargs,
        )


@pytest.fixture
def official() -> OfficialHost:
    return OfficialHost()


@pytest.fixture
def no_kling_env(monkeypatch):
    for name in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_API_KEY", "KLING_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def assert_playable_mp4(path: Path, *, seconds: float | None = None) -> tuple[int, int]:
    """Decode every frame of an MP4 with PyAV; check H.264 and the length. Returns (w, h)."""
    assert path.is_file() and path.stat().st_size > 0, path
    with av.open(str(path)) as container:
        assert container.format.name.startswith("mov"), container.format.name
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = sum(1 for _ in container.decode(stream))
        assert frames > 0
        if seconds is not None:
            duration = frames / float(stream.average_rate)
            assert abs(duration - seconds) < 0.25, (duration, seconds)
        return stream.codec_context.width, stream.codec_context.height
