"""A tiny Wan on disk serves a kling-v3 two-shot task through the app on a loopback socket,
end to end."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest

from openkling.domain.vocabulary import V3_DURATIONS
from openkling.engines.registry import build_catalog

pytest.importorskip("torch")
pytest.importorskip("diffusers")
av = pytest.importorskip("av")

PROFILE = """
[models."kling-v3"]
engine = "diffusers"
family = "wan"
weights = "{weights}"
device = "cpu"
dtype = "float32"
steps = 2
fps = 4
resolution = {{ std = {{ "16:9" = [48, 32] }} }}
"""


def test_a_profile_keeps_the_catalogs_multi_shot_and_durations(tmp_path, profile_settings):
    weights = tmp_path / "w"
    weights.mkdir()
    catalog = build_catalog(profile_settings(PROFILE.format(weights=weights)))
    v3 = catalog.get("kling-v3")
    assert v3.multi_shot and v3.durations == V3_DURATIONS and v3.audio


def frames_of(data: bytes) -> tuple[list[np.ndarray], float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        return [
            f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(stream)
        ], fps


@pytest.mark.slow  # tiny pipelines, end to end
def test_tiny_wan_renders_a_two_shot_task(tiny_weights, tmp_path, app_factory):
    profile = tmp_path / "profiles.toml"
    profile.write_text(PROFILE.format(weights=tiny_weights("wan")))
    server = app_factory(env={"OPENKLING_PROFILES_FILE": str(profile)}, socket=True)
    body = {
        "model_name": "kling-v3",
        "duration": "7",
        "sound": "on",
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "a red fox runs on the beach", "duration": "3"},
            {"index": 2, "prompt": "a blue car in the city at night", "duration": "4"},
        ],
        "watermark_info": {"enabled": True},
    }
    response = server.request("POST", "/v1/videos/text2video", json=body)
    assert response.status_code == 200, response.text
    task = server.wait_task(response.json()["data"]["task_id"], timeout=300)
    assert task["task_status"] == "succeed", task.get("task_status_msg")
    (video,) = task["task_result"]["videos"]
    data = httpx.get(video["url"], timeout=30).content
    frames, fps = frames_of(data)
    # 3 s + 4 s at the profile's 4 fps: 12 + 16 frames, each shot cut from Wan's 13 and 17
    assert fps == 4 and len(frames) == 28
    assert float(video["duration"]) == pytest.approx(7.0, abs=0.1)
    with av.open(io.BytesIO(data)) as container:
        audio = container.streams.audio[0]
        assert float(audio.duration * audio.time_base) >= 7.0 - 0.05
    marked, _ = frames_of(httpx.get(video["watermark_url"], timeout=30).content)
    assert len(marked) == 28
    assert any(np.abs(m - f).max() > 40 for m, f in zip(marked, frames, strict=True))
    # the random tiny model's frames settle within a shot, and jump at the cut to frame 12
    change = [np.abs(b - a).mean() for a, b in zip(frames, frames[1:], strict=False)]
    assert change[11] > 5 * max(change[7:11])
    assert "2 shot(s)" in server.log()  # the worker rendered two shots
