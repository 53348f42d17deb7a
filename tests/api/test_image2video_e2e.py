"""image2video end to end over HTTP on the synthetic engine, measured against its inputs: the
first frame is the image, the last the tail, portrait stays portrait, masks hold and move."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from pictures import b64, decode_frames, encode, gradient, psnr, resize
from support.harness import AppServer

PATH = "/v1/videos/image2video"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = AppServer(
        socket=True, data_dir=tmp_path_factory.mktemp("i2v-e2e"), env={"OPENKLING_WORKERS": "2"}
    )
    s.start()
    yield s
    s.stop()


def create(server, body: dict) -> str:
    response = server.request("POST", PATH, json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]["task_id"]


def finish(server, task_id: str, timeout: float = 120) -> list[np.ndarray]:
    deadline = time.monotonic() + timeout
    while True:
        data = server.request("GET", f"{PATH}/{task_id}").json()["data"]
        if data["task_status"] in ("succeed", "failed"):
            break
        assert time.monotonic() < deadline, f"task {task_id} did not finish"
        time.sleep(0.2)
    assert data["task_status"] == "succeed", data.get("task_status_msg")
    video = data["task_result"]["videos"][0]
    return decode_frames(httpx.get(video["url"], timeout=30).content)


def test_first_frame_is_the_image_and_last_frame_the_tail(server):
    image, tail = gradient(640, 360, seed=1), 255 - gradient(640, 360, seed=2)[::-1]
    alone = create(server, {"image": b64(encode(image)), "prompt": "a calm lake"})
    both = create(server, {"image": b64(encode(image)), "image_tail": b64(encode(tail))})

    frames = finish(server, alone)
    h, w = frames[0].shape[:2]
    assert (w, h) == (256, 144)  # 16:9 at the std short side of 144
    assert psnr(frames[0], resize(image, w, h)) >= 25
    assert psnr(frames[-1], resize(image, w, h)) < psnr(frames[0], resize(image, w, h))

    frames = finish(server, both)
    assert psnr(frames[0], resize(image, w, h)) >= 25
    assert psnr(frames[-1], resize(tail, w, h)) >= 25
    assert psnr(frames[len(frames) // 2], resize(tail, w, h)) < 25  # reached, not jumped to


def test_a_portrait_image_gives_a_portrait_video_and_a_jpeg_works(server):
    portrait = gradient(360, 640, seed=4)
    frames = finish(server, create(server, {"image": b64(encode(portrait, "JPEG", quality=95))}))
    h, w = frames[0].shape[:2]
    assert (w, h) == (144, 256)
    assert psnr(frames[0], resize(portrait, w, h)) >= 25


def test_static_mask_holds_and_a_dynamic_region_follows_its_trajectory(server):
    image = np.full((360, 640, 3), 190, np.uint8)
    image[:, :, 2] = 230
    image[100:140, 100:140] = (230, 20, 20)  # a red square, centre (120, 120) from the top
    image[250:330, 20:100] = gradient(80, 80, seed=5)  # a patch under the static mask
    image[250:330, 20:100, 0] = 40  # (with no red in it)
    region = np.zeros((360, 640), np.uint8)
    region[95:145, 95:145] = 255
    still = np.zeros((360, 640), np.uint8)
    still[250:330, 20:100] = 255
    # Kling's trajectory points count from the image's bottom-left corner
    path = [{"x": 120, "y": 240}, {"x": 520, "y": 240}, {"x": 520, "y": 80}]
    body = {
        "image": b64(encode(image)),
        "static_mask": b64(encode(still)),
        "dynamic_masks": [{"mask": b64(encode(region)), "trajectories": path}],
    }
    frames = finish(server, create(server, body))
    k = 256 / 640
    # in output pixels from the top-left: (48, 48) -> (208, 48) -> (208, 112), 224 px long
    for index in (0, len(frames) // 2, len(frames) - 1):
        frame = frames[index].astype(int)
        red = (frame[:, :, 0] > 170) & (frame[:, :, 1] < 100) & (frame[:, :, 2] < 120)
        ys, xs = np.nonzero(red)
        along = 560 * k * index / (len(frames) - 1)
        want = (48 + min(along, 160), 48 + max(0.0, along - 160))
        assert abs(xs.mean() - want[0]) < 3 and abs(ys.mean() - want[1]) < 3, (index, want)

    y0, y1, x0, x1 = round(250 * k) + 2, round(330 * k) - 2, round(20 * k) + 2, round(100 * k) - 2
    first, last = frames[0][y0:y1, x0:x1].astype(int), frames[-1][y0:y1, x0:x1].astype(int)
    assert np.abs(first - last).mean() < 3  # the still region barely changes


def test_with_a_camera_the_first_frame_is_still_the_image_and_the_camera_moves_it(server):
    image = gradient(640, 360, seed=7)
    body = {
        "image": b64(encode(image)),
        "camera_control": {"type": "simple", "config": {"horizontal": 8}},
    }
    frames = finish(server, create(server, body))
    h, w = frames[0].shape[:2]
    assert psnr(frames[0], resize(image, w, h)) >= 25
    # the camera moves right: the picture slides left, so the last frame's left part is the
    # first frame's content from further right
    first, last = frames[0].astype(float), frames[-1].astype(float)
    shifts = range(0, w // 2)
    errors = [np.abs(last[:, : w - s] - first[:, s:]).mean() for s in shifts]
    best = int(np.argmin(errors))
    assert best > w * 0.1, best  # it moved, to the right, by a clear amount
