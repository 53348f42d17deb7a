"""The seed document's Python example, run unchanged but for BASE, the keys and the poll
interval, against a real server at its default (720p / 1080p) resolutions."""

from __future__ import annotations

import os
import time

import av
import cv2
import jwt
import numpy as np
import pytest
import requests

from openkling.media.encode import probe

# Default sizes and the default x264 preset's speed class; only the encoder is made faster.
SEED_ENV = {
    "OPENKLING_STD_SHORT_SIDE": "720",
    "OPENKLING_PRO_SHORT_SIDE": "1080",
    "OPENKLING_X264_PRESET": "ultrafast",
}


@pytest.fixture(scope="module")
def seed_server(tmp_path_factory):
    from support.harness import AppServer

    server = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("seed"), env=SEED_ENV)
    server.start()
    os.environ["KLING_ACCESS_KEY"] = server.access_key
    os.environ["KLING_SECRET_KEY"] = server.secret_key
    yield server
    server.stop()


def run_seed_example(BASE: str, body: dict) -> dict:  # noqa: N803 - the seed's own name
    """The seed's code, verbatim except for the function wrapper and the poll interval."""

    def get_headers():
        ak, sk = os.environ["KLING_ACCESS_KEY"], os.environ["KLING_SECRET_KEY"]
        token = jwt.encode(
            {"iss": ak, "exp": int(time.time()) + 1800, "nbf": int(time.time()) - 5},
            sk,
            algorithm="HS256",
            headers={"alg": "HS256", "typ": "JWT"},
        )
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    # Create text-to-video task
    response = requests.post(f"{BASE}/videos/text2video", headers=get_headers(), json=body)
    task = response.json()
    task_id = task["data"]["task_id"]
    # Poll for completion
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.5)
        result = requests.get(f"{BASE}/videos/text2video/{task_id}", headers=get_headers()).json()
        status = result["data"]["task_status"]
        if status == "succeed":
            video = result["data"]["task_result"]["videos"][0]
            print(f"Video URL: {video['url']}")
            print(f"Duration: {video['duration']}s")
            return result["data"]
        elif status == "failed":
            raise RuntimeError(result["data"]["task_status_msg"])
        # else: submitted/processing — keep polling
    raise AssertionError("task did not finish")


PLAIN = {
    "model_name": "kling-v2-6",
    "prompt": "Aerial drone shot of a coral reef at golden hour, "
    "tropical fish swimming through crystal clear water, "
    "sun rays penetrating the surface, cinematic 4K",
    "negative_prompt": "blurry, low quality, distorted, watermark",
    "duration": "5",
    "aspect_ratio": "16:9",
    "mode": "professional",
    "cfg_scale": 0.5,
}
CAMERA = {
    "model_name": "kling-v2-6",
    "prompt": "A medieval castle on a cliff at sunrise, fog in the valley",
    "duration": "5",
    "mode": "standard",
    "camera_control": {
        "type": "simple",
        "config": {
            "horizontal": 5,  # pan right (negative = left), range -10 to 10
            "vertical": 0,  # tilt (negative = down, positive = up)
            "zoom": 3,  # zoom in (positive) or out (negative)
            "roll": 0,  # rotation
            "pan": 0,  # dolly left/right
            "tilt": -2,  # dolly up/down
        },
    },
}
AUDIO = {
    "model_name": "kling-v2-6",
    "prompt": "A jazz band performing in a dimly lit club, saxophone solo, "
    "audience clapping, warm amber lighting",
    "duration": "10",
    "mode": "professional",
    "motion_has_audio": True,  # generates synchronized audio
}


@pytest.mark.parametrize(
    ("body", "size", "seconds", "audio"),
    [
        (PLAIN, (1920, 1080), 5, False),
        (CAMERA, (1280, 720), 5, False),
        (AUDIO, (1920, 1080), 10, True),
    ],
    ids=["plain", "camera", "audio"],
)
def test_seed_example(seed_server, tmp_path, capsys, body, size, seconds, audio):
    data = run_seed_example(seed_server.base_url + "/v1", body)
    video = data["task_result"]["videos"][0]
    assert f"Video URL: {video['url']}" in capsys.readouterr().out
    assert isinstance(video["duration"], str)
    assert abs(float(video["duration"]) - seconds) <= 0.2

    # the URL works without the Authorization header, like the official CDN links
    resp = requests.get(video["url"], timeout=60)
    assert resp.status_code == 200
    path = tmp_path / "video.mp4"
    path.write_bytes(resp.content)

    info = probe(path)
    assert (info.width, info.height) == size
    assert abs(info.duration - seconds) <= 0.2
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p"
    assert info.has_audio is audio
    if audio:
        assert abs(info.audio_duration - info.duration) <= 0.05
        assert info.audio_sample_rate == 48000
    with av.open(str(path)) as container:  # every frame decodes
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(frames) == info.num_frames == round(seconds * info.fps)
    motion = screen_motion(frames)
    if "camera_control" in body:
        # horizontal 5: camera right, content slides left; zoom 3: content grows outwards;
        # tilt -2: camera turns down, content slides up (y grows downwards on screen)
        assert motion["dx"] < -0.2, motion
        assert motion["radial"] > 0.02, motion
        assert motion["dy"] < -0.04, motion
    else:
        assert all(abs(v) < 0.01 for v in motion.values()), motion


def screen_motion(frames: list[np.ndarray], size=(320, 180)) -> dict[str, float]:
    """Mean over the clip of the median optical flow (pixels per frame at 320x180)."""
    w, h = size
    small = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames[::2]]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs -= (w - 1) / 2
    ys -= (h - 1) / 2
    r = np.hypot(xs, ys) + 1e-6
    sums = {"dx": 0.0, "dy": 0.0, "radial": 0.0}
    for a, b in zip(small, small[1:], strict=False):
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        fx, fy = flow[..., 0], flow[..., 1]
        sums["dx"] += float(np.median(fx))
        sums["dy"] += float(np.median(fy))
        sums["radial"] += float(np.median((fx * xs + fy * ys) / r))
    return {k: v / (len(small) - 1) for k, v in sums.items()}
