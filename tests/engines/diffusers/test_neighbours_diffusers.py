"""The neighbouring doors on tiny diffusers pipelines: reference pictures through Wan VACE
(``[references]``), an extension continued through the model's image-to-video pipeline, an
effect scene through it with its camera path, and models without references refused."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from openkling.config import Settings
from openkling.engines.base import RenderRequest
from openkling.engines.profiles import ProfileError
from openkling.engines.registry import build_registry
from pictures import b64, decode_frames, encode, gradient

pytest.importorskip("torch")
pytest.importorskip("diffusers")

SIZES = '{{ std = {{ "16:9" = [48, 32], "9:16" = [32, 48], "1:1" = [32, 32] }} }}'
PROFILE = """
[models."kling-v1-6"]
engine = "diffusers"
family = "wan"
weights = "{t2v}"
device = "cpu"
dtype = "float32"
steps = 2
fps = 4
resolution = SIZES

[models."kling-v1-6".i2v]
weights = "{i2v}"
steps = 2
fps = 4
resolution = SIZES

[models."kling-v1-6".references]
weights = "{vace}"
steps = 2
fps = 4
resolution = SIZES

[models."kling-v1"]
engine = "diffusers"
family = "wan"
weights = "{t2v}"
device = "cpu"
dtype = "float32"
steps = 2
fps = 4
resolution = SIZES
""".replace("SIZES", SIZES)


def profile_text(tiny_weights) -> str:
    return PROFILE.format(
        t2v=tiny_weights("wan"), i2v=tiny_weights("wan-i2v"), vace=tiny_weights("wan-vace")
    )


def test_vace_references_steer_the_frames_and_the_catalog_says_who_takes_them(
    tiny_weights, tmp_path
):
    path = tmp_path / "profiles.toml"
    path.write_text(profile_text(tiny_weights))
    registry = build_registry(Settings(profiles_file=path, data_dir=tmp_path / "data"))
    assert registry.catalog.supporting("references") == ("kling-v1-6",)
    engine = registry.references("kling-v1-6")
    assert engine.name == "diffusers-wan-vace" and engine.capabilities.references

    def render(*colours, seed=3):
        pictures = [np.full((40, 40, 3), c, np.uint8) for c in colours]
        request = RenderRequest(
            prompt="a cat", negative_prompt="", width=48, height=32, num_frames=5, fps=4,
            cfg_scale=0.5, seed=seed, references=pictures,
        )  # fmt: skip
        return np.stack(list(engine.render(request)))

    red_blue = render((255, 0, 0), (0, 0, 255))
    assert red_blue.shape == (5, 32, 48, 3)
    assert np.array_equal(red_blue, render((255, 0, 0), (0, 0, 255)))  # same seed, same frames
    assert not np.array_equal(red_blue, render((0, 255, 0)))  # the references steer them


def test_a_references_table_is_checked(tmp_path, tiny_weights):
    path = tmp_path / "profiles.toml"
    path.write_text(
        f'[models."kling-v1-6"]\nengine = "diffusers"\nfamily = "wan"\n'
        f'weights = "{tiny_weights("wan")}"\n[models."kling-v1-6".references]\nsteps = 2\n'
    )
    with pytest.raises(ProfileError, match="references.*weights"):
        build_registry(Settings(profiles_file=path, data_dir=tmp_path / "data"))


def wait(server, path: str, task_id: str) -> dict:
    deadline = time.monotonic() + 300
    while True:
        data = server.request("GET", f"{path}/{task_id}").json()["data"]
        if data["task_status"] in ("succeed", "failed"):
            assert data["task_status"] == "succeed", data.get("task_status_msg")
            return data
        assert time.monotonic() < deadline
        time.sleep(0.3)


@pytest.mark.slow  # four tiny pipelines, end to end
def test_extend_multi_image_and_effects_on_tiny_diffusers(tiny_weights, tmp_path, app_factory):
    profile = tmp_path / "profiles.toml"
    profile.write_text(profile_text(tiny_weights))
    server = app_factory(env={"OPENKLING_PROFILES_FILE": str(profile)}, socket=True)

    def create(path, body):
        response = server.request("POST", path, json=body)
        assert response.status_code == 200, response.text
        return response.json()["data"]["task_id"]

    def frames(data):
        url = data["task_result"]["videos"][0]["url"]
        return decode_frames(httpx.get(url, timeout=30).content)

    # text2video, then its extension through the i2v pipeline from the last frame
    t2v = "/v1/videos/text2video"
    parent = wait(server, t2v, create(t2v, {"model_name": "kling-v1-6", "prompt": "a red fox"}))
    before = frames(parent)
    assert len(before) == 21 and before[0].shape == (32, 48, 3)  # 5 s at 4 fps, 4k+1
    extend = "/v1/videos/video-extend"
    video_id = parent["task_result"]["videos"][0]["id"]
    whole = frames(wait(server, extend, create(extend, {"video_id": video_id})))
    assert len(whole) == 2 * len(before)  # the parent, then as many frames again
    assert np.mean(np.abs(whole[20].astype(int) - before[-1].astype(int))) < 3

    # multi-image through VACE; a model without references is refused, naming the one that has
    multi = "/v1/videos/multi-image2video"
    refs = [{"image": b64(encode(gradient(400, 400, seed=s)))} for s in (1, 2)]
    body = {"prompt": "two cats", "image_list": refs}
    assert len(frames(wait(server, multi, create(multi, body)))) == 21
    refused = server.request("POST", multi, json={**body, "model_name": "kling-v1"})
    assert refused.status_code == 400 and refused.json()["code"] == 1201
    assert "kling-v1-6" in refused.json()["message"]

    # an effect: the scene's prompt through the i2v pipeline, its camera path on top
    effects = "/v1/videos/effects"
    scene = {"effect_scene": "zoom_out", "input": {"image": b64(encode(gradient(640, 360)))}}
    assert len(frames(wait(server, effects, create(effects, scene)))) == 21
