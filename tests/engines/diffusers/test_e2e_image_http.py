"""The app, on a loopback socket, with a profile that maps a Kling model to a tiny Wan I2V:
image2video end to end through the API, and a text-only model refused at create."""

from __future__ import annotations

import time

import httpx
import pytest

from pictures import b64, decode_frames, encode, gradient

pytest.importorskip("torch")
pytest.importorskip("diffusers")

PROFILE = """
[models."kling-v2-1"]
engine = "diffusers"
family = "wan"
device = "cpu"
dtype = "float32"

[models."kling-v2-1".i2v]
weights = "{i2v}"
steps = 2
fps = 4
resolution = {{ std = {{ "16:9" = [48, 32], "9:16" = [32, 48] }} }}

[models."kling-v1-6"]
engine = "diffusers"
family = "wan"
weights = "{t2v}"
device = "cpu"
dtype = "float32"
steps = 2
fps = 4
resolution = {{ std = {{ "16:9" = [48, 32] }} }}
"""


@pytest.mark.slow  # tiny pipelines, end to end
def test_tiny_wan_i2v_serves_image2video_through_the_api(tiny_weights, tmp_path, app_factory):
    profile = tmp_path / "profiles.toml"
    profile.write_text(PROFILE.format(i2v=tiny_weights("wan-i2v"), t2v=tiny_weights("wan")))
    server = app_factory(env={"OPENKLING_PROFILES_FILE": str(profile)}, socket=True)
    portrait = b64(encode(gradient(360, 640, seed=2)))

    body = {"model_name": "kling-v2-1", "image": portrait, "prompt": "a red fox"}
    response = server.request("POST", "/v1/videos/image2video", json=body)
    assert response.status_code == 200, response.text
    task_id = response.json()["data"]["task_id"]
    deadline = time.monotonic() + 180
    while True:
        data = server.request("GET", f"/v1/videos/image2video/{task_id}").json()["data"]
        if data["task_status"] in ("succeed", "failed"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert data["task_status"] == "succeed", data.get("task_status_msg")
    frames = decode_frames(httpx.get(data["task_result"]["videos"][0]["url"], timeout=30).content)
    # the image is portrait: the profile's 9:16 size; 5 s at 4 fps -> 21 frames (4k+1)
    assert frames[0].shape == (48, 32, 3) and len(frames) == 21

    # a model whose profile offers no image input is refused at create, naming those that do
    before = server.request("GET", "/account/costs").json()["data"]["balance"]
    refused = server.request(
        "POST", "/v1/videos/image2video", json={**body, "model_name": "kling-v1-6"}
    )
    assert refused.status_code == 400 and refused.json()["code"] == 1201
    message = refused.json()["message"]
    assert message.startswith("model_name: 'kling-v1-6' takes no image input")
    assert "kling-v2-1" in message and "kling-v1-6," not in message
    # the image-only model has no text2video; masks need an engine that honours them
    t2v = server.request(
        "POST", "/v1/videos/text2video", json={"model_name": "kling-v2-1", "prompt": "a fox"}
    )
    assert t2v.status_code == 400 and "kling-v2-1" in t2v.json()["message"]
    mask = b64(encode(gradient(360, 640, seed=3)))
    masked = server.request("POST", "/v1/videos/image2video", json={**body, "static_mask": mask})
    assert masked.status_code == 400
    assert masked.json()["message"].startswith("static_mask: model 'kling-v2-1' cannot honour")
    assert server.request("GET", "/account/costs").json()["data"]["balance"] == before
