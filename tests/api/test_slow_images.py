"""Slow image hosts cannot stall the API: image URLs are fetched on a pool of their own (a full
pool, or an account holding its share, is answered 429 / 1302 at once), a request's fetches
share one deadline, and its images one pixel budget. Another tenant's list and /healthz answer
while slow creates are in flight (an ``openkling serve`` process: its own request threads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from pictures import encode, gradient, png_b64
from support.server import LiveServer

PATH = "/v1/videos/image2video"
PNG = encode(gradient(400, 400, seed=5))


class SlowSite:
    """A loopback image host (admitted by OPENKLING_URL_ALLOW=127.0.0.1/32). ``/stall.png``
    trickles a byte every 0.2 s until ``release()``; ``/trickle.png`` sends a whole PNG over
    about ``trickle_seconds``."""

    trickle_seconds = 0.6

    def __init__(self) -> None:
        self.released = threading.Event()
        self.active = 0
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                with site.lock:
                    site.active += 1
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(len(PNG)))
                    self.end_headers()
                    if self.path.startswith("/stall"):
                        while not site.released.wait(0.2):
                            self.wfile.write(b"\0")
                            self.wfile.flush()
                        return
                    step = max(len(PNG) // 6, 1)
                    for start in range(0, len(PNG), step):
                        self.wfile.write(PNG[start : start + step])
                        self.wfile.flush()
                        time.sleep(site.trickle_seconds / 6)
                except OSError:
                    pass
                finally:
                    with site.lock:
                        site.active -= 1

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_active(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.active >= n:
                return
            time.sleep(0.02)
        raise AssertionError(f"{self.active} fetches in flight, expected {n}")

    def close(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[SlowSite]:
    s = SlowSite()
    yield s
    s.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "OPENKLING_WORKERS": "0",
        "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
        "OPENKLING_URL_ALLOW": "127.0.0.1/32",
        "OPENKLING_IMAGE_FETCH_TIMEOUT_SECONDS": "120",
        "OPENKLING_IMAGE_WORKERS": "24",
        "OPENKLING_IMAGE_WORKERS_PER_ACCOUNT": "2",
    }
    s = LiveServer(data_dir=tmp_path_factory.mktemp("slow-images"), env=env).start()
    yield s
    s.stop()


def _timed(fn: object) -> float:
    start = time.monotonic()
    response = fn()  # type: ignore[operator]
    elapsed = time.monotonic() - start
    assert response.status_code == 200, response.text
    return elapsed


@pytest.mark.parametrize("in_flight", [6, 24])
def test_slow_image_hosts_do_not_stall_other_tenants_or_health(
    server: LiveServer, site: SlowSite, in_flight: int
) -> None:
    accounts = [server.new_account() for _ in range(in_flight // 2)]
    other = server.new_account()
    answers: list[httpx.Response] = []
    base = site.active

    def create(account: object) -> None:
        with httpx.Client(timeout=300) as client:
            body = {"image": f"{site.url}/stall.png?{id(account)}"}
            answers.append(
                client.post(server.base_url + PATH, json=body, headers=account.headers())  # type: ignore[attr-defined]
            )

    threads = [
        threading.Thread(target=create, args=(a,), daemon=True) for a in accounts for _ in range(2)
    ]
    for t in threads:
        t.start()
    try:
        site.wait_active(base + in_flight)
        with httpx.Client(timeout=30) as client:
            listing = _timed(
                lambda: client.get(
                    server.base_url + "/v1/videos/text2video?pageSize=10", headers=other.headers()
                )
            )
            health = _timed(lambda: client.get(server.base_url + "/healthz"))
            ready = _timed(lambda: client.get(server.base_url + "/readyz"))
        assert listing < 1 and health < 1 and ready < 1, (listing, health, ready)
        assert not answers  # every slow create is still being read

        # the account's share is taken: its next image create is refused at once
        refused = server.request(
            "POST", PATH, json={"image": png_b64(400, 400)}, account=accounts[0]
        )
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == 1302
        assert refused.headers["Retry-After"] == "1"
        assert "per account" in refused.json()["message"]
        if in_flight == 24:  # the pool is full: anyone's image create is refused at once
            full = server.request("POST", PATH, json={"image": png_b64(400, 400)}, account=other)
            assert full.status_code == 429, full.text
            assert "busy" in full.json()["message"]
            # a create without images does not need the pool
            t2v = server.request(
                "POST", "/v1/videos/text2video", json={"prompt": "a fox"}, account=other
            )
            assert t2v.status_code == 200, t2v.text
    finally:
        site.released.set()
        for t in threads:
            t.join(60)
        site.released.clear()
    assert len(answers) == in_flight
    # the bodies ended short: each create is refused as a failed fetch, nothing stuck
    assert all(a.status_code == 400 for a in answers), [a.text for a in answers]
