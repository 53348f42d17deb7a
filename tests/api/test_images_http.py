"""/v1/images/generations against a real server on the synthetic engine: the task's shapes, the
pictures (n, aspect and resolution exact, indexes in order, the reference drawn), callbacks,
families kept apart, n concurrency slots, and the bad-input table with nothing stored or charged."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest
from PIL import Image

from pictures import b64, encode, gradient, png_b64, resize
from support.harness import AppServer
from support.server import free_port

PATH = "/v1/images/generations"
T2V = "/v1/videos/text2video"
PROMPT = "a lighthouse on a cliff at dawn"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = AppServer(
        socket=True, data_dir=tmp_path_factory.mktemp("images"), env={"OPENKLING_WORKERS": "2"}
    )
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    """No worker runs here: tasks stay submitted and keep their concurrency slots."""
    env = {
        "OPENKLING_WORKERS": "0",
        "OPENKLING_MAX_CONCURRENT_TASKS": "5",
        "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
    }
    s = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("images-idle"), env=env)
    s.start()
    yield s
    s.stop()


def create(server, body: dict, account=None) -> dict:
    response = server.request("POST", PATH, json=body, account=account)
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert (envelope["code"], envelope["message"]) == (0, "SUCCEED")
    return envelope["data"]


def finish(server, task_id: str) -> dict:
    data = server.wait_task(task_id, path=PATH, timeout=120)
    assert data["task_status"] == "succeed", data.get("task_status_msg")
    return data


def download(url: str) -> tuple[bytes, np.ndarray]:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    return response.content, np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def balance(server, account=None) -> float:
    resp = server.request("GET", "/account/costs", account=account)
    return resp.json()["data"]["resource_pack_subscribe_infos"][0]["remaining_quantity"]


def test_n_pictures_at_the_exact_aspect_and_resolution_with_indexes_in_order(server):
    account = server.new_account(credits=100)
    task = create(
        server,
        {"prompt": PROMPT, "n": 3, "aspect_ratio": "21:9", "external_task_id": "shelf-1"},
        account,
    )
    assert task["task_status"] == "submitted" and task["task_info"] == {
        "external_task_id": "shelf-1"
    }
    assert task["final_unit_deduction"] == "12"  # kling-v1: 4 credits a picture
    done = server.wait_task(task["task_id"], path=PATH, account=account)
    assert done["task_status"] == "succeed", done["task_status_msg"]
    images = done["task_result"]["images"]
    assert set(done["task_result"]) == {"images"}  # no videos in an image task
    assert [image["index"] for image in images] == [0, 1, 2]
    pictures = []
    for image in images:
        data, pixels = download(image["url"])
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert pixels.shape == (576, 1344, 3)  # 21:9 exactly, at 1k
        pictures.append(pixels)
    assert not np.array_equal(pictures[0], pictures[1])  # each picture its own draw
    assert balance(server, account) == 88

    # get by external_task_id, in the path and in the query; the list, newest first
    for path in (f"{PATH}/shelf-1", f"{PATH}?external_task_id=shelf-1"):
        got = server.request("GET", path, account=account).json()["data"]
        assert got["task_id"] == task["task_id"]
        assert [i["index"] for i in got["task_result"]["images"]] == [0, 1, 2]
    second = create(server, {"prompt": PROMPT, "resolution": "2k", "aspect_ratio": "3:4"}, account)
    done = server.wait_task(second["task_id"], path=PATH, account=account)
    (image,) = done["task_result"]["images"]
    assert download(image["url"])[1].shape == (2304, 1728, 3)  # 3:4 exactly, at 2k
    listed = server.request("GET", f"{PATH}?pageNum=1&pageSize=1", account=account).json()
    assert [t["task_id"] for t in listed["data"]] == [second["task_id"]]
    listed = server.request("GET", f"{PATH}?pageNum=2&pageSize=1", account=account).json()
    assert [t["task_id"] for t in listed["data"]] == [task["task_id"]]


def test_every_aspect_ratio_is_delivered_exactly(server):
    ratios = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
    ids = {
        r: create(server, {"prompt": "ratio " + r, "aspect_ratio": r})["task_id"] for r in ratios
    }
    for ratio, task_id in ids.items():
        (image,) = finish(server, task_id)["task_result"]["images"]
        height, width = download(image["url"])[1].shape[:2]
        rw, rh = (int(x) for x in ratio.split(":"))
        assert width * rh == height * rw, (ratio, width, height)
        assert 0.7e6 < width * height < 1.3e6  # 1k: about a megapixel


def test_a_reference_image_is_drawn_at_its_fidelity_and_priced_as_image_to_image(server):
    reference = gradient(640, 360, seed=9)
    account = server.new_account(credits=100)
    body = {"prompt": PROMPT, "image": b64(encode(reference)), "image_fidelity": 1, "n": 2}
    task = create(server, {**body, "image_reference": "subject"}, account)
    assert task["final_unit_deduction"] == "16"  # with a reference: 8 credits a picture
    images = server.wait_task(task["task_id"], path=PATH, account=account)["task_result"]["images"]
    for image in images:
        pixels = download(image["url"])[1]
        expected = resize(reference, 1280, 720)
        upper = slice(100, 400)  # clear of the number and of the prompt's band
        assert np.abs(pixels[upper].astype(int) - expected[upper].astype(int)).mean() < 3
    loose = create(server, {**body, "image_fidelity": 0.2, "n": 1}, account)
    (image,) = server.wait_task(loose["task_id"], path=PATH, account=account)["task_result"][
        "images"
    ]
    pixels = download(image["url"])[1]
    assert np.abs(pixels[100:400].astype(int) - resize(reference, 1280, 720)[100:400]).mean() > 10


def test_families_are_kept_apart(server):
    account = server.new_account(credits=100)
    image_task = create(server, {"prompt": PROMPT, "external_task_id": "mine"}, account)
    video = server.request("POST", T2V, json={"prompt": PROMPT}, account=account).json()["data"]
    for path in (f"{T2V}/{image_task['task_id']}", f"{T2V}/mine", f"{PATH}/{video['task_id']}"):
        response = server.request("GET", path, account=account)
        assert response.status_code == 404 and response.json()["code"] == 1203, path
    images = server.request("GET", PATH, account=account).json()["data"]
    videos = server.request("GET", T2V, account=account).json()["data"]
    assert [t["task_id"] for t in images] == [image_task["task_id"]]
    assert [t["task_id"] for t in videos] == [video["task_id"]]
    other = server.new_account()
    response = server.request("GET", f"{PATH}/{image_task['task_id']}", account=other)
    assert response.status_code == 404


class Receiver:
    """A callback receiver on loopback: every POSTed task object, in order."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for(self, status: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for payload in self.received:
                if payload.get("task_status") == status:
                    return payload
            time.sleep(0.1)
        raise AssertionError(f"no {status} callback; got {self.received}")


def test_callbacks_carry_the_pictures(server):
    receiver = Receiver()
    try:
        url = f"http://127.0.0.1:{receiver.port}/hook"
        task = create(server, {"prompt": PROMPT, "n": 2, "callback_url": url})
        done = receiver.wait_for("succeed")
        assert done["task_id"] == task["task_id"]
        assert [i["index"] for i in done["task_result"]["images"]] == [0, 1]
        assert download(done["task_result"]["images"][1]["url"])[1].shape == (720, 1280, 3)
        assert receiver.received[0]["task_status"] in ("submitted", "processing")
    finally:
        receiver.httpd.shutdown()


def test_an_image_task_holds_n_concurrency_slots(idle):
    account = idle.new_account(credits=1000)
    first = create(idle, {"prompt": PROMPT, "n": 3}, account)
    refused = idle.request("POST", PATH, json={"prompt": PROMPT, "n": 3}, account=account)
    assert refused.status_code == 429 and refused.json()["code"] == 1303
    assert "hold 3 of its 5 concurrency slots" in refused.json()["message"]
    create(idle, {"prompt": PROMPT, "n": 2}, account)  # 3 + 2: the limit, reached
    video = idle.request("POST", T2V, json={"prompt": PROMPT}, account=account)
    assert video.status_code == 429 and video.json()["code"] == 1303  # a video needs one more
    too_many = idle.request("POST", PATH, json={"prompt": PROMPT, "n": 9}, account=account)
    assert too_many.status_code == 429 and "at most 5 images" in too_many.json()["message"]
    assert balance(idle, account) == 1000 - 20  # only the two accepted tasks were charged

    cancelled = idle.request("POST", f"{PATH}/{first['task_id']}/cancel", account=account)
    assert cancelled.json()["data"]["task_status"] == "failed"
    assert balance(idle, account) == 1000 - 8  # refunded
    create(idle, {"prompt": PROMPT, "n": 3}, account)  # its 3 slots are free again


BAD = [
    ({}, "prompt", "is required"),
    ({"prompt": ""}, "prompt", "is required"),
    ({"prompt": "   "}, "prompt", "is required"),
    ({"prompt": "x" * 2501}, "prompt", "at most 2500 characters"),
    ({"negative_prompt": "x" * 2501}, "negative_prompt", "at most 2500"),
    ({"model_name": "kling-v2-6"}, "model_name", "kling-v1, kling-v1-5, kling-v2, kling-v2-new"),
    ({"n": 0}, "n", "from 1 to 9, got 0"),
    ({"n": 10}, "n", "from 1 to 9, got 10"),
    ({"n": "2"}, "n", "an integer from 1 to 9"),
    ({"n": 2.5}, "n", "an integer from 1 to 9"),
    ({"aspect_ratio": "5:4"}, "aspect_ratio", "16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3, 21:9"),
    ({"resolution": "4k"}, "resolution", "1k, 2k"),
    ({"image_fidelity": 1.5}, "image_fidelity", "from 0 to 1, got 1.5"),
    ({"human_fidelity": -0.1}, "human_fidelity", "from 0 to 1"),
    ({"image_fidelity": "high"}, "image_fidelity", "a number from 0 to 1"),
    ({"image_reference": "body"}, "image_reference", "subject, face"),
    ({"image_reference": "face"}, "image", 'required when image_reference is "face"'),
    ({"image": "not base64!"}, "image", "neither an http(s) URL nor valid base64"),
    ({"image": "data:image/png;base64,AAAA"}, "image", "no data: prefix"),
    ({"image": png_b64(200, 200)}, "image", "at least 300 px"),
    ({"image": 12}, "image", "must be a string"),
    ({"image": "ftp://example.com/a.png"}, "image", "ftp: URL is not allowed"),
    ({"image": "http://169.254.169.254/a.png"}, "image", ""),
    ({"callback_url": "ftp://example.com/hook"}, "callback_url", ""),
    ({"callback_url": "http://10.0.0.1/hook"}, "callback_url", ""),
    ({"external_task_id": "x" * 129}, "external_task_id", "at most 128 characters"),
    ({"prompt": "a\x00b"}, "prompt", "NUL"),
]


@pytest.fixture(scope="module")
def refused(idle):
    """The account whose bad requests must change nothing."""
    return idle.new_account(credits=100)


@pytest.mark.parametrize(("fields", "field", "says"), BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    idle, refused, fields, field, says
):
    account = refused
    body = {"prompt": PROMPT, **fields}
    if fields == {}:
        body = {}
    response = idle.request("POST", PATH, json=body, account=account)
    assert response.status_code == 400, response.text
    envelope = response.json()
    assert envelope["code"] == 1201 and "data" not in envelope
    assert envelope["message"].startswith(f"{field}: "), envelope["message"]
    assert says in envelope["message"]
    assert "Traceback" not in envelope["message"] and "pydantic" not in envelope["message"]
    assert balance(idle, account) == 100
    assert idle.request("GET", PATH, account=account).json()["data"] == []
    inputs = idle.data_dir / "media" / "inputs"  # no accepted task here has an image
    assert not inputs.exists() or not any(inputs.rglob("*.*"))


def test_not_json_and_not_an_object(idle):
    headers = idle.headers()
    response = httpx.post(idle.base_url + PATH, content=b"{nope", headers=headers)
    assert response.status_code == 400 and response.json()["code"] == 1200
    response = idle.request("POST", PATH, json=[1, 2])
    assert response.status_code == 400 and response.json()["code"] == 1201
    assert "JSON object" in response.json()["message"]


def test_a_duplicate_external_task_id_is_refused(idle):
    account = idle.new_account(credits=100)
    create(idle, {"prompt": PROMPT, "external_task_id": "twice"}, account)
    again = idle.request(
        "POST", PATH, json={"prompt": PROMPT, "external_task_id": "twice"}, account=account
    )
    assert again.status_code == 400 and "already used" in again.json()["message"]
    assert balance(idle, account) == 96


def test_image_models_list_their_prices(idle):
    models = {m["model_name"]: m for m in idle.request("GET", "/v1/images/models").json()["data"]}
    assert list(models) == [
        "kling-v1",
        "kling-v1-5",
        "kling-v2",
        "kling-v2-new",
        "kling-v2-1",
        "kling-v3",
    ]
    prices = {p["input"]: p["credits_per_image"] for p in models["kling-v2-1"]["prices"]}
    assert prices == {"text": 4, "image": 8}  # Kling Image 2.1's units per picture
    prices = {p["input"]: p["credits_per_image"] for p in models["kling-v3"]["prices"]}
    assert prices == {"text": 8, "image": 8}
    assert models["kling-v3"]["aspect_ratios"][-1] == "21:9" and models["kling-v3"]["allowed"]
    account = idle.new_account(credits=100)
    task = create(idle, {"prompt": PROMPT, "model_name": "kling-v3", "n": 2}, account)
    assert task["final_unit_deduction"] == "16" and balance(idle, account) == 84
