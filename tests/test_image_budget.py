"""A request's image work is bounded as a whole: its URL fetches share one deadline
(OPENKLING_IMAGE_FETCH_TIMEOUT_SECONDS), and its images one pixel budget
(OPENKLING_IMAGE_PIXEL_BUDGET), refused 400 / 1201 with nothing stored."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from openkling.config import Settings
from openkling.errors import InvalidParameter, RateLimited
from openkling.net.image_fetch import ImagePool, image_loader
from pictures import encode, gradient, png_b64

PNG = encode(gradient(400, 400, seed=2))


@pytest.fixture(scope="module")
def trickle_site() -> Iterator[str]:
    """``/a.png``, ``/b.png``...: the same PNG, sent in six parts over 0.6 s."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            step = len(PNG) // 6 + 1
            try:
                for start in range(0, len(PNG), step):
                    self.wfile.write(PNG[start : start + step])
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, url_allow=["127.0.0.1/32"], **values)  # type: ignore[arg-type]


def test_one_deadline_covers_all_of_a_requests_fetches(trickle_site: str, tmp_path: Path) -> None:
    # each URL alone fits the 1 s budget; two of them together do not
    alone = image_loader(settings(tmp_path, image_fetch_timeout_seconds=1.0))
    assert alone("image", f"{trickle_site}/a.png").width == 400
    load = image_loader(settings(tmp_path, image_fetch_timeout_seconds=1.0))
    load("image", f"{trickle_site}/a.png")
    with pytest.raises(InvalidParameter, match=r"^image_tail: .*took longer than 1 s"):
        load("image_tail", f"{trickle_site}/b.png")


def test_the_pixel_budget_covers_all_of_a_requests_images(tmp_path: Path) -> None:
    load = image_loader(settings(tmp_path, image_pixel_budget=300_000))
    load("image", png_b64(400, 400))  # 160,000 pixels
    with pytest.raises(InvalidParameter, match=r"^image_tail: .*at most 0.3 megapixels per"):
        load("image_tail", png_b64(400, 400))


def test_over_the_pixel_budget_is_400_and_nothing_is_stored(app_factory) -> None:  # type: ignore[no-untyped-def]
    server = app_factory(env={"OPENKLING_IMAGE_PIXEL_BUDGET": "300000", "OPENKLING_WORKERS": "0"})
    body = {"image": png_b64(400, 400), "image_tail": png_b64(400, 400)}
    response = server.request("POST", "/v1/videos/image2video", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 1201
    assert "image_tail" in response.json()["message"]
    assert "megapixels per request" in response.json()["message"]
    listed = server.request("GET", "/v1/videos/image2video?pageSize=10").json()["data"]
    assert listed == []
    inputs = server.data_dir / "media" / "inputs"
    assert not inputs.exists() or not any(p.is_file() for p in inputs.rglob("*"))
    alone = server.request("POST", "/v1/videos/image2video", json={"image": png_b64(400, 400)})
    assert alone.status_code == 200, alone.text


def test_the_image_pool_refuses_at_once_when_full_or_over_an_accounts_share() -> None:
    async def scenario() -> list[str]:
        pool = ImagePool(workers=3, per_account=2)
        gate = threading.Event()
        held = [asyncio.create_task(pool.run(a, gate.wait, 10)) for a in ("a", "a", "b")]
        await asyncio.sleep(0.05)
        refusals = []
        for account in ("a", "c"):  # a: its share; c: the pool
            with pytest.raises(RateLimited) as caught:
                await pool.run(account, time.sleep, 0)
            refusals.append(caught.value.message)
        gate.set()
        await asyncio.gather(*held)
        assert pool.busy == 0
        await pool.run("a", time.sleep, 0)  # room again
        return refusals

    share, full = asyncio.run(scenario())
    assert "at most 2 requests with images" in share
    assert "busy" in full
