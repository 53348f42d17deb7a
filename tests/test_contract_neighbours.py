"""The neighbouring doors' parsers, in-process: field rules, images read only after every
other field passed, the stitched pair, and the effects catalog as data a deployment extends."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from openkling.contract.kling.effects import parse_effects, stitch
from openkling.contract.kling.multi_image2video import parse_multi_image2video
from openkling.contract.kling.video_extend import parse_video_extend
from openkling.domain.catalog import default_catalog
from openkling.domain.effects import EffectsError, load_effects
from openkling.domain.result import TaskResult, VideoResult
from openkling.errors import InvalidParameter
from openkling.media.images import check_image, to_rgb
from pictures import encode

CATALOG = default_catalog()


def picture(colour, width=400, height=400):
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:] = colour
    return check_image(encode(pixels), "image")


class Loader:
    """Counts the images read; every one is a red picture."""

    def __init__(self):
        self.fields: list[str] = []

    def __call__(self, field: str, value: str):
        self.fields.append(field)
        return picture((200, 30, 30))


def test_multi_image_reads_no_image_until_every_other_field_is_good():
    load = Loader()
    body = {"prompt": "x", "image_list": [{"image": "a"}, {"image": "b"}], "mode": "turbo"}
    with pytest.raises(InvalidParameter, match="^mode"):
        parse_multi_image2video(body, CATALOG, load)
    assert load.fields == []
    parsed = parse_multi_image2video({**body, "mode": "pro"}, CATALOG, load)
    assert load.fields == ["image_list[0].image", "image_list[1].image"]
    assert parsed.request.model_name == "kling-v1-6" and len(parsed.request.references) == 2
    assert set(parsed.inputs) == {r.key for r in parsed.request.references}
    assert parsed.request.input_keys() == [r.key for r in parsed.request.references]


def test_effects_scene_kind_decides_the_input_and_the_price():
    effects = load_effects()
    load = Loader()
    with pytest.raises(InvalidParameter, match="^effect_scene: 'nope' is not offered"):
        parse_effects({"effect_scene": "nope", "input": {"image": "a"}}, effects, CATALOG, load)
    with pytest.raises(InvalidParameter, match="^input.images: 'hug_pro' needs exactly 2"):
        parse_effects(
            {"effect_scene": "hug_pro", "input": {"images": ["a"]}}, effects, CATALOG, load
        )
    assert load.fields == []
    single = parse_effects(
        {"effect_scene": "zoom_out", "input": {"image": "a"}}, effects, CATALOG, load
    )
    request = single.request
    assert request.credits == 10 and request.effect.look == "still"
    assert request.camera_control.config.zoom == -8 and request.aspect_ratio is None
    dual = parse_effects(
        {"effect_scene": "kiss_pro", "input": {"images": ["a", "b"]}}, effects, CATALOG, load
    )
    assert dual.request.effect.dual and dual.request.credits == 35 and dual.request.mode == "pro"
    assert len(dual.inputs) == 1  # the stitched pair is the one input


def test_stitch_puts_the_first_left_and_the_second_right_meeting_mid_way():
    left, right = picture((220, 40, 40), 600, 400), picture((40, 60, 220), 300, 500)
    pair = stitch(left, right)
    pixels = to_rgb(pair.data)
    assert pair.height == 500 and pair.width == 2 * round(500 * 0.75)
    half = pair.width // 2
    assert np.abs(pixels[:, : half - 1].astype(int) - (220, 40, 40)).max() < 4
    assert np.abs(pixels[:, half + 1 :].astype(int) - (40, 60, 220)).max() < 4


def test_a_deployment_file_adds_and_replaces_scenes(tmp_path):
    extra = tmp_path / "effects.toml"
    extra.write_text(
        '[scenes.snow_globe]\nkind = "single"\nprompt = "snow swirls"\nlook = "drift"\n'
        'credits = 4\n[scenes.zoom_out]\nprompt = "pull back"\nlook = "still"\n'
        "camera = { zoom = -3 }\ncredits = 2\n"
    )
    effects = load_effects(extra)
    assert "snow_globe" in effects.names and "hug_pro" in effects.names
    assert effects.get("zoom_out").credits == 2 and effects.get("zoom_out").camera == {"zoom": -3}
    for text, fragment in (
        ('[scenes.x]\nkind = "triple"\nprompt = "p"\ncredits = 1\n', "kind"),
        ('[scenes.x]\nprompt = "p"\nlook = "sparkle"\ncredits = 1\n', "look"),
        ('[scenes.x]\nprompt = "p"\ncamera = { zoom = 40 }\ncredits = 1\n', "camera.zoom"),
        ('[scenes.x]\nprompt = "p"\ncredits = 1\ncolour = "red"\n', "unknown key"),
        ('[scenes.x]\nprompt = "p"\n', "credits"),
        ('model = "kling-v9"\n', "kling-v9"),
    ):
        bad = tmp_path / f"bad{abs(hash(text))}.toml"
        bad.write_text(text)
        with pytest.raises(EffectsError, match=fragment):
            load_effects(bad)


def task(duration=5.0, status="succeed", audio=False, expired=None):
    video = VideoResult(
        id="111-1", key="videos/111-1.mp4", duration=duration, width=256, height=144,
        num_frames=int(duration * 24), fps=24, has_audio=audio,
    )  # fmt: skip
    return SimpleNamespace(
        id="111", model_name="kling-v1", status=status, expired_at=expired,
        result=TaskResult(videos=[video], seed=1).model_dump(),
        request={"prompt": "a kite", "mode": "pro"},
    )  # fmt: skip


@pytest.mark.parametrize(
    "parent, fragment",
    [
        (None, "is not a video of yours"),
        (task(status="processing"), "is not a video of yours"),
        (task(expired=1), "has expired"),
        (task(duration=176.0), "at most 180 s"),
        (task(audio=True), "soundtrack"),
    ],
)
def test_extend_refuses_what_cannot_be_extended(parent, fragment):
    with pytest.raises(InvalidParameter, match=f"^video_id: .*{fragment}"):
        parse_video_extend({"video_id": "111-1"}, lambda _: parent)


def test_extend_continues_on_the_parents_model_mode_size_and_prompt():
    request = parse_video_extend({"video_id": "111-1", "cfg_scale": 0.2}, lambda _: task())
    assert (request.model_name, request.mode, request.size) == ("kling-v1", "pro", (256, 144))
    assert request.prompt == "a kite" and request.duration == 5 and request.cfg_scale == 0.2
    assert request.parent.video_id == "111-1" and request.parent.key == "videos/111-1.mp4"
    assert request.input_keys() == []  # the parent's file is its own task's, never removed
    with pytest.raises(InvalidParameter, match="^video_id: is required"):
        parse_video_extend({}, lambda _: task())
