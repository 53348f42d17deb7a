"""The app on a loopback socket with a tiny Wan profile, four models on the same weights: one
device, two devices (``devices = ["cpu", "cpu"]`` with Ulysses attention over two gloo ranks),
and a LoRA at scale 1 and at scale 0. With the same seed the two-device video equals the
one-device video, the LoRA changes the frames and the LoRA at scale 0 does not. One server for
all of it."""

from __future__ import annotations

import importlib.util
import io

import httpx
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
# LoRAs need peft (the diffusers extra); looked up, not imported: importing it takes a second
# and a half, and every pytest worker collects this module
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("peft") is None,
    reason="LoRAs need peft (pip install -e '.[diffusers]')",
)
av = pytest.importorskip("av")

# 5 s at 1 fps: 5 frames (Wan's 4k+1), two latent frames; 32x32 is 2x2 tokens per latent
# frame, so the 8-token sequence splits evenly over two Ulysses ranks.
COMMON = """engine = "diffusers"
family = "wan"
weights = "{weights}"
dtype = "float32"
steps = 2
fps = 1
resolution = {{ std = {{ "16:9" = [32, 32] }} }}
"""

PROFILE = """
[models."kling-v1"]
device = "cpu"
{common}
[models."kling-v1-6"]
devices = ["cpu", "cpu"]
parallel = {{ ulysses = 2 }}
{common}
[models."kling-v1-5"]
device = "cpu"
loras = [{{ path = "{lora}", scale = 1.0 }}]
{common}
[models."kling-v2-master"]
device = "cpu"
loras = [{{ path = "{lora}", scale = 0.0 }}]
{common}
"""


def frames(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.slow  # a group of two rank processes
def test_two_ranks_and_a_lora_profile_through_the_api(tiny_weights, tmp_path, app_factory):
    weights, lora = tiny_weights("wan"), tiny_weights("wan-lora")
    profile = tmp_path / "profiles.toml"
    common = COMMON.format(weights=weights)
    profile.write_text(PROFILE.format(common=common, lora=lora))
    server = app_factory(env={"OPENKLING_PROFILES_FILE": str(profile)}, socket=True)
    videos = {}
    for model in ("kling-v1", "kling-v1-6", "kling-v1-5", "kling-v2-master"):
        body = {"model_name": model, "prompt": "a red fox runs", "duration": "5", "seed": 42}
        response = server.request("POST", "/v1/videos/text2video", json=body)
        assert response.status_code == 200, response.text
        task = server.wait_task(response.json()["data"]["task_id"], timeout=600)
        assert task["task_status"] == "succeed", (model, task.get("task_status_msg"))
        url = task["task_result"]["videos"][0]["url"]
        videos[model] = frames(httpx.get(url, timeout=30).content)
    single = videos["kling-v1"]
    assert all(video.shape == (5, 32, 32, 3) for video in videos.values())
    assert np.std(single) > 1  # decoded noise, not a blank canvas
    # two ranks: the single-device video
    assert psnr(single, videos["kling-v1-6"]) >= 35.0
    # the LoRA changes the frames; at scale 0 it changes nothing
    assert not np.array_equal(single, videos["kling-v1-5"])
    assert np.array_equal(single, videos["kling-v2-master"])


@pytest.mark.slow  # two rank processes, each importing torch
def test_two_experts_across_two_ranks_cancel_together_and_keep_serving(tiny_weights, tmp_path):
    """Wan 2.2 A14B layout (both experts parallel): the same frames as one device; a cancel
    stops every rank at the same step and the group serves the next job."""
    from openkling.config import Settings
    from openkling.engines.base import RenderRequest
    from openkling.engines.registry import build_registry
    from openkling.errors import GenerationCancelled

    weights = tiny_weights("wan2.2")
    common = (
        f'engine = "diffusers"\nfamily = "wan2.2"\nweights = "{weights}"\ndtype = "float32"\n'
        "steps = 3\nfps = 4\nguidance_2 = [1.0, 3.0]\n"
        'resolution = { std = { "16:9" = [32, 32] } }\n'
    )
    path = tmp_path / "profiles.toml"
    path.write_text(
        f'[models."kling-v1"]\ndevice = "cpu"\n{common}'
        f'[models."kling-v1-6"]\ndevices = ["cpu", "cpu"]\nparallel = {{ ulysses = 2 }}\n{common}'
    )
    registry = build_registry(Settings(profiles_file=path, data_dir=tmp_path / "data"))
    one, two = registry.video("kling-v1"), registry.video("kling-v1-6")
    request = RenderRequest("a red fox", "blur", 32, 32, 5, 4.0, 0.5, 7)
    expected = np.stack(one.render(request))
    steps: list[tuple[int, int]] = []
    with pytest.raises(GenerationCancelled):
        two.render(request, on_step=lambda *a: steps.append(a), should_stop=lambda: len(steps) >= 1)
    assert 1 <= len(steps) < 3  # stopped at the next step, not at the end
    steps.clear()
    got = np.stack(two.render(request, on_step=lambda *a: steps.append(a)))
    assert steps == [(1, 3), (2, 3), (3, 3)]  # rank 0 reports every step
    assert psnr(expected, got) >= 35.0
    two.pool.clear()
