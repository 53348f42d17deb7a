"""One job across two devices: a real `openkling serve` whose profile runs a tiny Wan with
``devices = ["cpu", "cpu"]`` and Ulysses attention (two gloo ranks) renders the same video as
the single-device profile with the same seed."""

from __future__ import annotations

import io

import httpx
import numpy as np
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
steps = 3
fps = 4
resolution = {{ std = {{ "16:9" = [64, 48] }} }}

[models."kling-v1-6"]
engine = "diffusers"
family = "wan"
weights = "{weights}"
devices = ["cpu", "cpu"]
parallel = {{ ulysses = 2 }}
dtype = "float32"
steps = 3
fps = 4
resolution = {{ std = {{ "16:9" = [64, 48] }} }}
"""


def frames(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.slow  # one server and two rank processes, each importing torch
def test_two_ranks_render_the_single_device_video(tiny_weights, tmp_path, server_factory):
    profile = tmp_path / "profiles.toml"
    profile.write_text(PROFILE.format(weights=tiny_weights("wan")))
    server = server_factory(env={"OPENKLING_PROFILES_FILE": str(profile)})
    videos = {}
    for model in ("kling-v1", "kling-v1-6"):
        body = {"model_name": model, "prompt": "a red fox runs", "duration": "5", "seed": 42}
        response = server.request("POST", "/v1/videos/text2video", json=body)
        assert response.status_code == 200, response.text
        task = server.wait_task(response.json()["data"]["task_id"], timeout=600)
        assert task["task_status"] == "succeed", task.get("task_status_msg")
        url = task["task_result"]["videos"][0]["url"]
        videos[model] = frames(httpx.get(url, timeout=30).content)
    single, parallel = videos["kling-v1"], videos["kling-v1-6"]
    assert single.shape == parallel.shape == (21, 48, 64, 3)
    assert np.std(single) > 1  # decoded noise, not a blank canvas
    assert psnr(single, parallel) >= 35.0


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
        "steps = 4\nfps = 4\nguidance_2 = [1.0, 3.0]\n"
        'resolution = { std = { "16:9" = [64, 32] } }\n'
    )
    path = tmp_path / "profiles.toml"
    path.write_text(
        f'[models."kling-v1"]\ndevice = "cpu"\n{common}'
        f'[models."kling-v1-6"]\ndevices = ["cpu", "cpu"]\nparallel = {{ ulysses = 2 }}\n{common}'
    )
    registry = build_registry(Settings(profiles_file=path, data_dir=tmp_path / "data"))
    one, two = registry.video("kling-v1"), registry.video("kling-v1-6")
    request = RenderRequest("a red fox", "blur", 64, 32, 9, 4.0, 0.5, 7)
    expected = np.stack(one.render(request))
    steps: list[tuple[int, int]] = []
    with pytest.raises(GenerationCancelled):
        two.render(request, on_step=lambda *a: steps.append(a), should_stop=lambda: len(steps) >= 2)
    assert 2 <= len(steps) < 4  # stopped at the next step, not at the end
    steps.clear()
    got = np.stack(two.render(request, on_step=lambda *a: steps.append(a)))
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]  # rank 0 reports every step
    assert psnr(expected, got) >= 35.0
    two.pool.clear()
