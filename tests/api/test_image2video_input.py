"""image2video over HTTP: the bad-image and URL table (each refused with its code and nothing
changed: no task, no credit, no file), URL inputs fetched through the guard, and the two doors
kept apart."""

from __future__ import annotations

import copy
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from pictures import b64, encode, gradient, png_b64
from support.harness import AppServer

PATH = "/v1/videos/image2video"
IMAGE = png_b64(640, 360)
SQUARE = png_b64(400, 400)


class Site(BaseHTTPRequestHandler):
    """A web server on loopback (admitted by OPENKLING_URL_ALLOW=127.0.0.1/32 in the tests)."""

    files = {
        "/photo.png": ("image/png", encode(gradient(480, 320, seed=3))),
        "/photo.gif": ("image/gif", b"GIF89a" + bytes(100)),
        "/page.html": ("text/html", b"<html>hello</html>"),
    }

    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path.startswith("/redirect"):
            target = self.path.split("to=", 1)[1]
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/huge.png":  # 11 MB of "PNG": refused by size while streaming
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            chunk = b"\x89PNG\r\n\x1a\n" + bytes(1024 * 1024 - 8)
            try:
                for _ in range(11):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        kind, body = self.files.get(self.path, ("text/plain", b""))
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # no engine runs: tasks stay submitted, so only what the API does shows
    env = {"OPENKLING_WORKERS": "0", "OPENKLING_RATE_LIMIT_PER_MINUTE": "0"}
    s = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("i2v-input"), env=env)
    s.start()
    yield s
    s.stop()


def balance(server, account=None) -> float:
    data = server.request("GET", "/account/costs", account=account).json()["data"]
    return data["balance"]


def input_files(server) -> list[Path]:
    root = server.data_dir / "media" / "inputs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def snapshot(server, account=None) -> tuple:
    tasks = server.request("GET", f"{PATH}?pageSize=500", account=account).json()["data"]
    t2v = server.request("GET", "/v1/videos/text2video?pageSize=500", account=account)
    return len(tasks), len(t2v.json()["data"]), balance(server, account), input_files(server)


def mask(width: int, height: int, box: tuple[int, int, int, int]) -> str:
    m = np.zeros((height, width), np.uint8)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = 255
    return b64(encode(m))


def masks(n: int, width: int = 400, height: int = 400) -> list[dict]:
    path = [{"x": 100, "y": 100}, {"x": 200, "y": 150}]
    return [{"mask": mask(width, height, (50, 50, 120, 120)), "trajectories": path}] * n


CASES = [
    # (name, body, field named in the message, words in the message)
    ("loopback", {"image": "http://127.0.0.2/a.png"}, "image", "loopback"),
    ("metadata", {"image": "http://169.254.169.254/latest/meta-data/"}, "image", "169.254"),
    ("private 10/8", {"image": "http://10.1.2.3/a.png"}, "image", "private"),
    ("ipv6 loopback", {"image": "http://[::1]:8080/a.png"}, "image", "loopback"),
    ("redirect to private", {"image": "{site}/redirect?to=http://10.0.0.1/a.png"}, "image", "10.0"),
    ("file scheme", {"image": "file:///etc/passwd"}, "image", "file"),
    ("oversize by URL", {"image": "{site}/huge.png"}, "image", "larger than"),
    ("wrong type by URL", {"image": "{site}/photo.gif"}, "image", "image/gif"),
    ("html by URL", {"image": "{site}/page.html"}, "image", "text/html"),
    ("missing by URL", {"image": "{site}/absent.png"}, "image", "404"),
    ("wrong type", {"image": b64(b"GIF89a" + bytes(300))}, "image", "JPG or PNG"),
    ("data prefix", {"image": "data:image/png;base64," + SQUARE}, "image", "data:"),
    ("too small", {"image": png_b64(299, 400)}, "image", "at least 300"),
    ("bad aspect", {"image": png_b64(800, 300)}, "image", "1:2.5"),
    ("bad tail", {"image": IMAGE, "image_tail": png_b64(200, 200)}, "image_tail", "300"),
    ("no image", {"prompt": "a cat"}, "image", "at least one of image and image_tail"),
    (
        "tail and mask",
        {"image": SQUARE, "image_tail": SQUARE, "static_mask": mask(400, 400, (0, 0, 9, 9))},
        "static_mask",
        "cannot be combined",
    ),
    (
        "tail and camera",
        {"image": IMAGE, "image_tail": IMAGE, "camera_control": {"type": "down_back"}},
        "camera_control",
        "cannot be combined",
    ),
    (
        "masks and camera",
        {"image": SQUARE, "dynamic_masks": masks(1), "camera_control": {"type": "down_back"}},
        "camera_control",
        "cannot be combined",
    ),
    (
        "masks with only a tail",
        {"image_tail": SQUARE, "dynamic_masks": masks(1)},
        "dynamic_masks",
        "cannot be combined",
    ),
    ("seven masks", {"image": SQUARE, "dynamic_masks": masks(7)}, "dynamic_masks", "at most 6"),
    (
        "one point",
        {"image": SQUARE, "dynamic_masks": [{**masks(1)[0], "trajectories": [{"x": 1, "y": 1}]}]},
        "dynamic_masks[0].trajectories",
        "2 to 77",
    ),
    (
        "point outside",
        {
            "image": SQUARE,
            "dynamic_masks": [
                {**masks(1)[0], "trajectories": [{"x": 1, "y": 1}, {"x": 401, "y": 5}]}
            ],
        },
        "dynamic_masks[0].trajectories[1]",
        "outside image",
    ),
    (
        "mask aspect",
        {"image": SQUARE, "static_mask": mask(640, 360, (0, 0, 10, 10))},
        "static_mask",
        "aspect ratio",
    ),
    (
        "mask sizes differ",
        {
            "image": SQUARE,
            "static_mask": mask(400, 400, (0, 0, 9, 9)),
            "dynamic_masks": masks(1, 300, 300),
        },
        "dynamic_masks[0].mask",
        "same size",
    ),
    (
        "masks need 5 s",
        {"image": SQUARE, "dynamic_masks": masks(1), "duration": "10"},
        "duration",
        "5",
    ),
    (
        "aspect field ignored, bad model",
        {"image": IMAGE, "model_name": "kling-v9"},
        "model_name",
        "kling-v1",
    ),
]


@pytest.mark.parametrize(("name", "body", "field", "words"), CASES, ids=[c[0] for c in CASES])
def test_refused_with_its_code_and_nothing_changes(server, site, name, body, field, words):
    body = {k: (v.replace("{site}", site) if isinstance(v, str) else v) for k, v in body.items()}
    before = snapshot(server)
    response = server.request("POST", PATH, json=copy.deepcopy(body))
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["code"] == 1201, payload
    assert payload["message"].startswith(f"{field}: "), payload["message"]
    assert words in payload["message"], payload["message"]
    assert "Traceback" not in payload["message"] and "Error" not in payload["message"]
    assert snapshot(server) == before  # no task, no credit moved, no file written


def test_a_create_refused_for_credit_leaves_no_file(server):
    poor = server.new_account(credits=1)
    before = snapshot(server, poor)
    response = server.request("POST", PATH, json={"image": IMAGE}, account=poor)
    assert response.status_code == 402, response.text
    assert response.json()["code"] == 1102
    assert snapshot(server, poor) == before


def test_a_url_input_is_fetched_stored_and_the_doors_stay_apart(server, site):
    before = input_files(server)
    response = server.request(
        "POST", PATH, json={"image": f"{site}/photo.png", "external_task_id": "i2v-url-1"}
    )
    assert response.status_code == 200, response.text
    task_id = response.json()["data"]["task_id"]
    stored = [p for p in input_files(server) if p not in before]
    assert len(stored) == 1 and stored[0].read_bytes() == Site.files["/photo.png"][1]

    for ref in (task_id, "i2v-url-1"):
        got = server.request("GET", f"{PATH}/{ref}").json()
        assert got["code"] == 0 and got["data"]["task_id"] == task_id
        other = server.request("GET", f"/v1/videos/text2video/{ref}")
        assert other.status_code == 404 and other.json()["code"] == 1203
    assert (
        server.request("GET", f"{PATH}?external_task_id=i2v-url-1").json()["data"]["task_id"]
        == task_id
    )

    t2v = server.request("POST", "/v1/videos/text2video", json={"prompt": "a red fox"})
    t2v_id = t2v.json()["data"]["task_id"]
    missing = server.request("GET", f"{PATH}/{t2v_id}")
    assert missing.status_code == 404 and missing.json()["code"] == 1203
    assert server.request("POST", f"{PATH}/{t2v_id}/cancel").status_code == 404
    listed = [t["task_id"] for t in server.request("GET", PATH).json()["data"]]
    assert task_id in listed and t2v_id not in listed

    cancelled = server.request("POST", f"{PATH}/{task_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
