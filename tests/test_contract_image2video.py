"""The image2video parser in-process: fields, defaults, the model list, trajectories flipped to
top-left pixels, and that no image is read before every other field passed."""

from __future__ import annotations

import pytest

from openkling.contract.kling import parse_text2video
from openkling.contract.kling.image2video import parse_image2video
from openkling.domain.catalog import default_catalog
from openkling.errors import InvalidParameter
from openkling.media.images import InputImage

CATALOG = default_catalog()


class Loader:
    """Stands in for base64 decoding / URL fetching: every value is a WxH picture."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, field: str, value: str) -> InputImage:
        self.calls.append(field)
        width, height = (int(v) for v in value.split("x"))
        return InputImage(data=b"\x89PNG", format="png", width=width, height=height)


def parse(body: dict) -> tuple:
    loader = Loader()
    return parse_image2video(body, CATALOG, loader), loader.calls


def test_defaults_and_an_optional_prompt():
    parsed, calls = parse({"image": "640x360"})
    req = parsed.request
    assert (req.model_name, req.prompt, req.duration, req.mode, req.cfg_scale) == (
        "kling-v1", "", 5, "std", 0.5,
    )  # fmt: skip
    assert req.aspect_ratio is None and not req.watermark
    assert (req.image.width, req.image.height) == (640, 360)
    assert req.image.key.startswith("inputs/") and req.image.key.endswith("/image.png")
    assert list(parsed.inputs) == [req.image.key] and calls == ["image"]


def test_every_listed_model_takes_an_image_and_kling_v2_1_only_an_image():
    for model in ("kling-v1", "kling-v1-5", "kling-v1-6", "kling-v2-master", "kling-v2-1",
                  "kling-v2-1-master", "kling-v2-5-turbo", "kling-v2-6", "kling-v3"):  # fmt: skip
        assert parse({"image": "400x400", "model_name": model})[0].request.model_name == model
    with pytest.raises(InvalidParameter, match="'kling-v2-1' does not offer text2video"):
        parse_text2video({"prompt": "a fox", "model_name": "kling-v2-1"}, CATALOG)
    assert (
        parse({"image": "400x400", "model_name": "kling-v3", "duration": "7"})[0].request.duration
        == 7
    )


def test_watermark_tail_sound_and_callback():
    parsed, _ = parse(
        {
            "image": "400x400",
            "image_tail": "400x400",
            "model_name": "kling-v2-6",
            "sound": "on",
            "watermark_info": {"enabled": True},
            "callback_url": "https://hooks.example.com/kling",
            "external_task_id": "mine-1",
            "prompt": "a fox",
        }
    )
    req = parsed.request
    assert req.watermark and req.sound and req.image_tail is not None
    assert (
        req.callback_url == "https://hooks.example.com/kling" and req.external_task_id == "mine-1"
    )
    assert len(parsed.inputs) == 2 and req.input_keys() == list(parsed.inputs)


def test_trajectories_count_from_the_bottom_left_and_are_kept_from_the_top_left():
    parsed, _ = parse(
        {
            "image": "400x300",
            "dynamic_masks": [
                {"mask": "400x300", "trajectories": [{"x": 10, "y": 0}, {"x": 390, "y": 300}]}
            ],
        }
    )
    [moving] = parsed.request.dynamic_masks
    assert [(p.x, p.y) for p in moving.trajectory] == [(10, 300), (390, 0)]


def test_no_image_is_read_when_another_field_is_wrong():
    loader = Loader()
    bad = {"image": "640x360", "image_tail": "640x360", "cfg_scale": 3}
    with pytest.raises(InvalidParameter, match="cfg_scale"):
        parse_image2video(bad, CATALOG, loader)
    with pytest.raises(InvalidParameter, match="prompt"):
        parse_image2video({"image": "640x360", "prompt": "x" * 2501}, CATALOG, loader)
    assert loader.calls == []
