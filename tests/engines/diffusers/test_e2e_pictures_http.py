"""The app, on a loopback socket, with a profile that maps image models to a tiny Flux and a
tiny SD3: /v1/images/generations end to end through the worker's image path, from text and from a
reference picture, and a model with img2img off refusing a reference at create."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from pictures import b64, encode, gradient

pytest.importorskip("torch")
pytest.importorskip("diffusers")

PATH = "/v1/images/generations"
PROFILE = """
[images."kling-v2-1"]
engine = "diffusers"
family = "flux"
weights = "{flux}"
device = "cpu"
dtype = "float32"
steps = 2
max_sequence_length = 32
resolution = {{ "1k" = {{ "1:1" = [64, 64], "3:4" = [48, 64] }} }}

[images."kling-v3"]
engine = "diffusers"
family = "sd3"
weights = "{sd3}"
device = "cpu"
dtype = "float32"
steps = 2
max_sequence_length = 32
img2img = false
resolution = {{ "1k" = {{ "1:1" = [32, 32] }} }}
"""


def pictures(server, task_id: str) -> list[np.ndarray]:
    data = server.wait_task(task_id, path=PATH, timeout=180)
    assert data["task_status"] == "succeed", data.get("task_status_msg")
    out = []
    for image in data["task_result"]["images"]:
        content = httpx.get(image["url"], timeout=30).content
        out.append(np.asarray(Image.open(io.BytesIO(content)).convert("RGB")))
    return out


@pytest.mark.slow  # tiny pipelines, end to end
def test_tiny_flux_and_sd3_serve_image_generation(tiny_weights, tmp_path, app_factory):
    profile = tmp_path / "profiles.toml"
    profile.write_text(PROFILE.format(flux=tiny_weights("flux"), sd3=tiny_weights("sd3")))
    server = app_factory(env={"OPENKLING_PROFILES_FILE": str(profile)}, socket=True)

    def create(body: dict) -> str:
        response = server.request("POST", PATH, json=body)
        assert response.status_code == 200, response.text
        return response.json()["data"]["task_id"]

    flux = pictures(
        server,
        create({"model_name": "kling-v2-1", "prompt": "a fox", "n": 2, "aspect_ratio": "1:1"}),
    )
    assert [p.shape for p in flux] == [(64, 64, 3), (64, 64, 3)]
    assert not np.array_equal(flux[0], flux[1])  # each picture its own seed

    reference = b64(encode(gradient(300, 400, seed=1)))
    body = {"model_name": "kling-v2-1", "prompt": "a fox", "image": reference}
    (from_reference,) = pictures(server, create({**body, "aspect_ratio": "3:4"}))
    assert from_reference.shape == (64, 48, 3)

    (sd3,) = pictures(
        server, create({"model_name": "kling-v3", "prompt": "a fox", "aspect_ratio": "1:1"})
    )
    assert sd3.shape == (32, 32, 3)
    refused = server.request("POST", PATH, json={**body, "model_name": "kling-v3"})
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "image: model 'kling-v3' takes no reference image on this deployment; models that do: "
        "kling-v1, kling-v1-5, kling-v2, kling-v2-new, kling-v2-1"
    )
