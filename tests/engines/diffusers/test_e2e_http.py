"""A real `openkling serve` whose profile maps Kling models to a tiny Wan on disk, via the API."""

from __future__ import annotations

import io
import time

import httpx
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
av = pytest.importorskip("av")

PROFILE = """
[models."kling-v1"]
engine = "diffusers"
family = "wan"
weights = "{weights}"
device = "cpu"
dtype = "float32"
steps = 2
fps = 4
resolution = {{ std = {{ "16:9" = [48, 32] }}, pro = {{ "16:9" = [64, 48] }} }}

# the same weights, many steps: a task long enough to watch its progress and cancel it
[models."kling-v1-6"]
engine = "diffusers"
family = "wan"
weights = "{weights}"
device = "cpu"
dtype = "float32"
steps = 1000
fps = 4
resolution = {{ std = {{ "16:9" = [48, 32] }} }}
"""


def probe(data: bytes) -> tuple[int, int, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.width, stream.codec_context.height, frames


def create(server, model: str, mode: str = "std") -> str:
    body = {"model_name": model, "prompt": "a red fox runs", "duration": "5", "mode": mode}
    response = server.request("POST", "/v1/videos/text2video", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]["task_id"]


def balance(server) -> float:
    data = server.request("GET", "/account/costs").json()["data"]
    return sum(p["remaining_quantity"] for p in data["resource_pack_subscribe_infos"])


@pytest.mark.slow  # one server that imports torch: about 20 s on two cores
def test_tiny_wan_serves_kling_models_through_the_api(tiny_weights, tmp_path, server_factory):
    profile = tmp_path / "profiles.toml"
    profile.write_text(PROFILE.format(weights=tiny_weights("wan")))
    server = server_factory(env={"OPENKLING_PROFILES_FILE": str(profile)})

    # size and frame count follow the profile
    for mode, size in (("std", (48, 32)), ("pro", (64, 48))):
        task = server.wait_task(create(server, "kling-v1", mode), timeout=180)
        assert task["task_status"] == "succeed", task.get("task_status_msg")
        video = task["task_result"]["videos"][0]
        data = httpx.get(video["url"], timeout=30).content
        # 5 s at the profile's 4 fps: 20 frames, rounded up to Wan's 4k+1 -> 21
        assert probe(data) == (*size, 21)
        assert float(video["duration"]) >= 5.0

    # progress moves with the denoising steps; cancel stops the loop and refunds
    before = balance(server)
    task_id = create(server, "kling-v1-6")
    deadline = time.monotonic() + 60
    while True:
        data = server.request("GET", f"/v1/videos/text2video/{task_id}").json()["data"]
        if data["task_status"] == "processing" and data["task_progress"] > 0:
            break
        assert data["task_status"] in ("submitted", "processing"), data
        assert time.monotonic() < deadline, "no progress reported"
        time.sleep(0.1)
    response = server.request("POST", f"/v1/videos/text2video/{task_id}/cancel")
    assert response.status_code == 200, response.text
    task = server.wait_task(task_id, timeout=30)
    assert task["task_status"] == "failed"
    assert "cancel" in task["task_status_msg"]
    assert task.get("task_result") in (None, {}, {"videos": []})
    assert balance(server) == before
