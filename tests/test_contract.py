"""contract.parse_text2video: every rule of the Kling request table, defaults and aliases."""

from __future__ import annotations

import pytest

from openkling.contract.kling import GenerationRequest, format_duration, parse_text2video
from openkling.domain.catalog import default_catalog
from openkling.errors import InvalidParameter

CATALOG = default_catalog()


def parse(**fields) -> GenerationRequest:
    return parse_text2video({"prompt": "a red fox in the snow", **fields}, CATALOG)


def refused(body: object) -> str:
    with pytest.raises(InvalidParameter) as info:
        parse_text2video(body, CATALOG)
    assert info.value.code == 1201
    return info.value.message


def test_defaults():
    req = parse()
    assert req == GenerationRequest(
        model_name="kling-v1",
        prompt="a red fox in the snow",
        negative_prompt="",
        duration=5,
        aspect_ratio="16:9",
        mode="std",
        cfg_scale=0.5,
        camera_control=None,
        sound=False,
        callback_url=None,
        external_task_id=None,
    )


def test_every_field_normalised():
    req = parse(
        model_name="kling-v2-6",
        negative_prompt="blurry",
        duration="10",
        aspect_ratio="9:16",
        mode="professional",
        cfg_scale=1,
        camera_control={"type": "simple", "config": {"zoom": -4}},
        sound="on",
        callback_url="https://example.com/hook?x=1",
        external_task_id="order-7",
    )
    assert req.model_name == "kling-v2-6"
    assert req.negative_prompt == "blurry"
    assert req.duration == 10
    assert req.aspect_ratio == "9:16"
    assert req.mode == "pro"
    assert req.cfg_scale == 1.0 and isinstance(req.cfg_scale, float)
    assert req.camera_control.type == "simple"
    assert req.camera_control.config.zoom == -4.0
    assert req.camera_control.config.pan == 0.0
    assert req.sound is True
    assert req.callback_url == "https://example.com/hook?x=1"
    assert req.external_task_id == "order-7"


TEXT_MODELS = CATALOG.supporting("text2video")


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_every_text2video_model_accepted(name):
    assert parse(model_name=name).model_name == name


def test_image_only_model_refused_naming_the_text_models():
    message = refused({"prompt": "x", "model_name": "kling-v2-1"})
    assert message.startswith("model_name: ") and "text2video" in message
    assert all(name in message for name in TEXT_MODELS)


def test_model_alias_and_precedence():
    assert parse(model="kling-v1-6").model_name == "kling-v1-6"
    assert parse(model_name="kling-v2-master", model="kling-v1-6").model_name == "kling-v2-master"
    assert parse(model_name=None, model="kling-v1-5").model_name == "kling-v1-5"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), (10, 10), ("5", 5), ("10", 10), (" 10 ", 10), (5.0, 5), (10.0, 10), (None, 5)],
)
def test_duration_accepted(value, expected):
    assert parse(duration=value).duration == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("std", "std"), ("pro", "pro"), ("standard", "std"), ("professional", "pro"), (None, "std")],
)
def test_mode_aliases(value, expected):
    assert parse(mode=value).mode == expected


@pytest.mark.parametrize("ratio", ["16:9", "9:16", "1:1"])
def test_aspect_ratios(ratio):
    assert parse(aspect_ratio=ratio).aspect_ratio == ratio


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (1, 1.0), (0.25, 0.25), (None, 0.5)])
def test_cfg_scale_accepted(value, expected):
    assert parse(cfg_scale=value).cfg_scale == expected


@pytest.mark.parametrize(
    "preset", ["down_back", "forward_up", "right_turn_forward", "left_turn_forward"]
)
def test_camera_presets(preset):
    assert parse(camera_control={"type": preset}).camera_control.type == preset
    zero = {axis: 0 for axis in ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")}
    assert parse(camera_control={"type": preset, "config": zero}).camera_control.config is None


@pytest.mark.parametrize("axis", ["horizontal", "vertical", "pan", "tilt", "roll", "zoom"])
@pytest.mark.parametrize("value", [-10, 10, 0.5])
def test_camera_simple_each_axis(axis, value):
    config = parse(camera_control={"type": "simple", "config": {axis: value}}).camera_control.config
    assert getattr(config, axis) == value
    assert sum(1 for v in config.model_dump().values() if v) == 1


def test_camera_simple_several_axes_combined():
    # The seed's own camera example sets three axes; openkling moves the camera itself and
    # combines them into one move instead of refusing the request.
    config = {"horizontal": 5, "vertical": 0, "zoom": 3, "roll": 0, "pan": 0, "tilt": -2}
    cam = parse(camera_control={"type": "simple", "config": config}).camera_control
    assert (cam.config.horizontal, cam.config.zoom, cam.config.tilt) == (5.0, 3.0, -2.0)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"sound": "on", "model_name": "kling-v2-6"}, True),
        ({"sound": "off", "model_name": "kling-v2-6"}, False),
        ({"sound": "off"}, False),
        ({"motion_has_audio": True, "model_name": "kling-v2-6"}, True),
        ({"motion_has_audio": False}, False),
        ({"sound": "off", "motion_has_audio": True, "model_name": "kling-v2-6"}, True),
        ({"sound": None, "motion_has_audio": None}, False),
    ],
)
def test_sound_switches(fields, expected):
    assert parse(**fields).sound is expected


def test_empty_optional_strings_mean_absent():
    req = parse(callback_url="", external_task_id="", negative_prompt="")
    assert (req.callback_url, req.external_task_id, req.negative_prompt) == (None, None, "")


def test_unknown_fields_ignored():
    assert parse(seed=3, image="x", extra={"a": 1}).prompt == "a red fox in the snow"


def test_limits_inclusive():
    assert len(parse(prompt="p" * 2500).prompt) == 2500
    assert len(parse(negative_prompt="n" * 2500).negative_prompt) == 2500
    assert len(parse(external_task_id="e" * 128).external_task_id) == 128


BAD = [
    # (fields, the field the message must name, a word the message must hold)
    ({"model_name": "kling-v9"}, "model_name", "kling-v2-6"),
    ({"model_name": 3}, "model_name", "string"),
    ({"model": ["kling-v1"]}, "model", "string"),
    ({"prompt": None}, "prompt", "required"),
    ({"prompt": ""}, "prompt", "required"),
    ({"prompt": " \n\t "}, "prompt", "empty"),
    ({"prompt": "p" * 2501}, "prompt", "2500"),
    ({"prompt": 42}, "prompt", "string"),
    ({"prompt": "nul\x00byte"}, "prompt", "NUL"),
    ({"prompt": "lone \ud800 surrogate"}, "prompt", "surrogate"),
    ({"negative_prompt": "n" * 2501}, "negative_prompt", "2500"),
    ({"negative_prompt": ["blurry"]}, "negative_prompt", "string"),
    ({"duration": "7"}, "duration", '"10"'),
    ({"duration": 7}, "duration", '"10"'),
    ({"duration": "abc"}, "duration", '"5"'),
    ({"duration": True}, "duration", "boolean"),
    ({"duration": 5.5}, "duration", '"5"'),
    ({"duration": "²"}, "duration", '"5"'),
    ({"duration": 10**400}, "duration", '"10"'),
    ({"duration": float("nan")}, "duration", '"5"'),
    ({"aspect_ratio": "4:3"}, "aspect_ratio", "16:9"),
    ({"aspect_ratio": 1.77}, "aspect_ratio", "string"),
    ({"mode": "ultra"}, "mode", "professional"),
    ({"cfg_scale": -0.1}, "cfg_scale", "between 0 and 1"),
    ({"cfg_scale": 1.1}, "cfg_scale", "between 0 and 1"),
    ({"cfg_scale": "0.5"}, "cfg_scale", "number"),
    ({"cfg_scale": True}, "cfg_scale", "number"),
    ({"cfg_scale": float("inf")}, "cfg_scale", "finite"),
    ({"cfg_scale": 10**400}, "cfg_scale", "finite"),
    ({"camera_control": "zoom"}, "camera_control", "object"),
    ({"camera_control": {}}, "camera_control.type", "simple"),
    ({"camera_control": {"type": "orbit"}}, "camera_control.type", "down_back"),
    ({"camera_control": {"type": 1}}, "camera_control.type", "simple"),
    ({"camera_control": {"type": "simple"}}, "camera_control.config", "required"),
    ({"camera_control": {"type": "simple", "config": {}}}, "camera_control.config", "non-zero"),
    (
        {"camera_control": {"type": "simple", "config": {"zoom": 0, "pan": 0}}},
        "camera_control.config",
        "non-zero",
    ),
    ({"camera_control": {"type": "simple", "config": [1]}}, "camera_control.config", "object"),
    (
        {"camera_control": {"type": "simple", "config": {"zoom": 11}}},
        "camera_control.config.zoom",
        "-10 and 10",
    ),
    (
        {"camera_control": {"type": "simple", "config": {"pan": -10.5}}},
        "camera_control.config.pan",
        "-10 and 10",
    ),
    (
        {"camera_control": {"type": "simple", "config": {"zoom": "3"}}},
        "camera_control.config.zoom",
        "number",
    ),
    (
        {"camera_control": {"type": "simple", "config": {"dolly": 3}}},
        "camera_control.config",
        "dolly",
    ),
    (
        {"camera_control": {"type": "down_back", "config": {"zoom": 2}}},
        "camera_control.config",
        "empty",
    ),
    ({"sound": "yes", "model_name": "kling-v2-6"}, "sound", '"on"'),
    ({"sound": 1, "model_name": "kling-v2-6"}, "sound", '"off"'),
    ({"sound": "on"}, "sound", "kling-v2-6"),
    ({"sound": "on", "model_name": "kling-v2-master"}, "sound", "does not generate audio"),
    ({"motion_has_audio": True}, "motion_has_audio", "kling-v2-6"),
    ({"motion_has_audio": "yes", "model_name": "kling-v2-6"}, "motion_has_audio", "true or false"),
    (
        {"sound": "on", "motion_has_audio": "yes", "model_name": "kling-v2-6"},
        "motion_has_audio",
        "true or false",
    ),
    ({"callback_url": "ftp://x"}, "callback_url", "http"),
    ({"callback_url": "not a url"}, "callback_url", "http"),
    ({"callback_url": "http://"}, "callback_url", "http"),
    ({"callback_url": "http://[::1"}, "callback_url", "http"),
    ({"callback_url": "http://host:99999/"}, "callback_url", "http"),
    ({"callback_url": "http://host/a\nb"}, "callback_url", "http"),
    ({"callback_url": "http://x/" + "a" * 2048}, "callback_url", "2048"),
    ({"callback_url": 80}, "callback_url", "string"),
    ({"external_task_id": 12}, "external_task_id", "string"),
    ({"external_task_id": "e" * 129}, "external_task_id", "128"),
]


@pytest.mark.parametrize(
    ("fields", "field", "word"), BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)]
)
def test_bad_field(fields, field, word):
    message = refused({"prompt": "a red fox in the snow", **fields})
    assert message.startswith(f"{field}: "), message
    assert word in message, message


def test_unknown_model_lists_every_valid_name():
    message = refused({"prompt": "x", "model_name": "kling-v9"})
    assert "kling-v9" in message
    for name in TEXT_MODELS:
        assert name in message


@pytest.mark.parametrize(
    ("body", "kind"),
    [([], "array"), ("prompt", "string"), (5, "integer"), (None, "null"), (True, "boolean")],
)
def test_body_must_be_an_object(body, kind):
    message = refused(body)
    assert "JSON object" in message and kind in message


def test_audio_only_where_the_catalog_offers_it():
    with_audio = [name for name in TEXT_MODELS if CATALOG.get(name).audio]
    assert with_audio == ["kling-v2-6", "kling-v3"]
    for name in TEXT_MODELS:
        if name in with_audio:
            assert parse(model_name=name, sound="on").sound
        else:
            refused({"prompt": "x", "model_name": name, "sound": "on"})


@pytest.mark.parametrize(
    ("seconds", "text"), [(5.0, "5.0"), (5.0417, "5.042"), (10.1, "10.1"), (0.04, "0.04")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
