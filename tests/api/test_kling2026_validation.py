"""The 2026 API's bad-input tables, in-process: each rule answers Kling's envelope, 400 / 1201
naming the field (and what is allowed), and nothing changes: no task, no charge, no file."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from openkling.api.app import create_app
from openkling.config import Settings
from openkling.tasks.accounts import create_account
from pictures import png_b64

FRAME = png_b64(400, 300)
SMALL = png_b64(200, 200)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("k26-validation"),
        workers=0,  # no engine: accepted tasks stay submitted
        rate_limit_per_minute=0,
        max_concurrent_tasks=0,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        rt = app.state.runtime
        with rt.sessions.begin() as s:
            key = create_account(s, credits_amount=1000).secret_key
        client.headers["Authorization"] = f"Bearer {key}"
        yield app, client


def state(app, client) -> tuple:
    """What a refused request must leave as it was: tasks, balance, stored files."""
    rt = app.state.runtime
    page = client.post("/tasks", json={"limit": 500}).json()["data"]
    balance = client.get("/account/costs").json()["data"]
    files = sorted(
        p for p in rt.settings.data_dir.rglob("*") if p.is_file() and "inputs" in p.parts
    )
    return page["count"], str(balance), files


T2V = "/text-to-video/{}"
I2V = "/image-to-video/{}"
OMNI = "/omni-video/{}"
BAD = [
    # (path, model, body, field the message starts with, words it contains)
    (T2V, "kling-9", {"prompt": "x"}, "model", "kling-3.0"),
    (T2V, "kling-v2-6", {"prompt": "x"}, "model", "kling-2.6"),  # a legacy name
    (T2V, "kling-3.0-omni", {"prompt": "x"}, "model", "not offered at /text-to-video"),
    (I2V, "kling-o1", {"contents": []}, "model", "kling-2.6"),
    (OMNI, "kling-3.0", {"contents": []}, "model", "kling-3.0-omni"),
    (T2V, "kling-2.6", {}, "prompt", "required"),
    (T2V, "kling-2.6", {"prompt": ""}, "prompt", "must not be empty"),
    (T2V, "kling-2.6", {"prompt": 5}, "prompt", "must be a string"),
    (T2V, "kling-2.6", {"prompt": "x" * 2501}, "prompt", "at most 2500"),
    (T2V, "kling-3.0", {"prompt": "x" * 3073}, "prompt", "at most 3072"),
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "negative_prompt": "y"},
        "negative_prompt",
        "allowed fields",
    ),
    (T2V, "kling-2.6", {"prompt": "x", "camera_control": {}}, "camera_control", "not a field"),
    (T2V, "kling-2.6", {"prompt": "x", "settings": []}, "settings", "must be an object"),
    (T2V, "kling-2.6", {"prompt": "x", "settings": {"mode": "pro"}}, "settings.mode", "duration"),
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "settings": {"duration": 7}},
        "settings.duration",
        "5 or 10",
    ),
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "settings": {"duration": "5"}},
        "settings.duration",
        "integer",
    ),
    (
        T2V,
        "kling-3.0",
        {"prompt": "x", "settings": {"duration": 16}},
        "settings.duration",
        "3 to 15",
    ),
    (
        T2V,
        "kling-3.0",
        {"prompt": "x", "settings": {"duration": 2}},
        "settings.duration",
        "3 to 15",
    ),
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "settings": {"aspect_ratio": "4:3"}},
        "settings.aspect_ratio",
        "'16:9', '9:16' or '1:1'",
    ),  # noqa: E501
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "settings": {"resolution": "480p"}},
        "settings.resolution",
        "'720p', '1080p' or '4k'",
    ),  # noqa: E501
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "settings": {"resolution": "4k"}},
        "settings.resolution",
        "offers 720p, 1080p",
    ),  # noqa: E501
    (
        T2V,
        "kling-3.0",
        {"prompt": "x", "settings": {"resolution": "4k"}},
        "settings.resolution",
        "this deployment makes 720p and 1080p",
    ),  # noqa: E501
    (
        T2V,
        "kling-2.5-turbo",
        {"prompt": "x", "settings": {"audio": "native"}},
        "settings.audio",
        "offers off",
    ),  # noqa: E501
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "settings": {"audio": "native"}},
        "settings.resolution",
        "1080p only",
    ),  # noqa: E501
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "settings": {"audio": "loud"}},
        "settings.audio",
        "'native', 'original' or 'off'",
    ),  # noqa: E501
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "settings": {"multi_shot": True}},
        "settings.multi_shot",
        "kling-3.0",
    ),  # noqa: E501
    (
        T2V,
        "kling-3.0",
        {"prompt": "x", "settings": {"multi_shot": "yes"}},
        "settings.multi_shot",
        "true or false",
    ),  # noqa: E501
    # the multi-shot prompt syntax
    (
        T2V,
        "kling-3.0",
        {"prompt": "shot 1, 2, a; shot 2, 2, b;"},
        "prompt",
        "last 4 s but settings.duration is 5 s",
    ),  # noqa: E501
    (T2V, "kling-3.0", {"prompt": "shot 1, 0, a; shot 2, 5, b;"}, "prompt", "at least 1 s"),
    (T2V, "kling-3.0", {"prompt": "shot 1, 2, a; shot 3, 3, b;"}, "prompt", "numbered"),
    (T2V, "kling-3.0", {"prompt": "shot 1, 5, ;"}, "prompt", "no words"),
    (T2V, "kling-3.0", {"prompt": "shot 1, 5, " + "w" * 513}, "prompt", "at most 512"),
    (T2V, "kling-3.0", {"prompt": "shot 1, 5, a; two, b"}, "prompt", "shot 2 is not"),
    (
        T2V,
        "kling-3.0",
        {
            "prompt": "".join(f"shot {i}, 1, s{i};" for i in range(1, 8)),
            "settings": {"duration": 7},
        },
        "prompt",
        "at most 6 shots",
    ),  # noqa: E501
    # options
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "options": {"callback_url": "ftp://x/y"}},
        "options.callback_url",
        "http",
    ),  # noqa: E501
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "options": {"callback_url": "http://10.0.0.1/h"}},
        "options.callback_url",
        "",
    ),  # noqa: E501
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "options": {"external_task_id": "e" * 129}},
        "options.external_task_id",
        "at most 128",
    ),  # noqa: E501
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "options": {"watermark_info": {"enabled": 1}}},
        "options.watermark_info.enabled",
        "true or false",
    ),  # noqa: E501
    (
        T2V,
        "kling-2.6",
        {"prompt": "x", "options": {"watermark_info": {"custom": "x"}}},
        "options.watermark_info.custom",
        "allowed fields: enabled",
    ),  # noqa: E501
    # contents
    (I2V, "kling-2.6", {"contents": [{"type": "prompt", "text": "x"}]}, "contents", "first_frame"),
    (I2V, "kling-2.6", {"contents": "x"}, "contents", "must be an array"),
    (I2V, "kling-2.6", {"contents": [{"text": "x"}]}, "contents[0].type", "required"),
    (I2V, "kling-2.6", {"contents": [{"type": "video"}]}, "contents[0].type", "not allowed"),
    (I2V, "kling-2.6", {"contents": [{"type": "first_frame"}]}, "contents[0].url", "required"),
    (
        I2V,
        "kling-2.6",
        {"contents": [{"type": "first_frame", "url": FRAME}], "settings": {"aspect_ratio": "1:1"}},
        "settings.aspect_ratio",
        "not a field",
    ),  # noqa: E501
    (
        I2V,
        "kling-2.6",
        {
            "contents": [
                {"type": "first_frame", "url": FRAME},
                {"type": "voice", "voice_id": "1", "id": "1"},
            ]
        },
        "contents[1].type",
        "'voice' is not supported",
    ),  # noqa: E501
    (
        I2V,
        "kling-3.0",
        {
            "contents": [
                {"type": "first_frame", "url": FRAME},
                {"type": "element", "element_id": "1", "id": "e"},
            ]
        },
        "contents[1].type",
        "'element' is not supported",
    ),  # noqa: E501
    (
        I2V,
        "kling-3.0",
        {
            "contents": [
                {"type": "first_frame", "url": FRAME},
                {"type": "refer_image", "url": FRAME},
            ]
        },
        "contents[1].type",
        "/omni-video",
    ),  # noqa: E501
    (
        I2V,
        "kling-2.6",
        {"contents": [{"type": "last_frame", "url": FRAME}]},
        "contents",
        "first_frame",
    ),  # noqa: E501
    (
        I2V,
        "kling-2.6",
        {"contents": [{"type": "first_frame", "url": FRAME}, {"type": "last_frame", "url": FRAME}]},
        "settings.resolution",
        "1080p only",
    ),  # noqa: E501
    (
        I2V,
        "kling-2.6",
        {
            "contents": [
                {"type": "first_frame", "url": FRAME},
                {"type": "first_frame", "url": FRAME},
            ]
        },
        "contents[1].type",
        "only one first_frame",
    ),  # noqa: E501
    (
        I2V,
        "kling-2.6",
        {"contents": [{"type": "first_frame", "url": SMALL}]},
        "contents[0].url",
        "300",
    ),  # noqa: E501
    (
        I2V,
        "kling-2.6",
        {"contents": [{"type": "first_frame", "url": "not base64!"}]},
        "contents[0].url",
        "",
    ),  # noqa: E501
    (
        I2V,
        "kling-2.6",
        {"contents": [{"type": "first_frame", "url": "http://127.0.0.1/a.png"}]},
        "contents[0].url",
        "",
    ),  # noqa: E501
    (
        I2V,
        "kling-2.6",
        {
            "contents": [
                {"type": "first_frame", "url": FRAME},
                {"type": "prompt", "text": "x" * 2501},
            ]
        },
        "contents[1].text",
        "at most 2500",
    ),  # noqa: E501
    (
        OMNI,
        "kling-3.0-omni",
        {
            "contents": [
                {"type": "prompt", "text": "x"},
                {"type": "feature_video", "url": "https://example.com/v.mp4"},
            ]
        },
        "contents[1].type",
        "'feature_video' is not supported",
    ),  # noqa: E501
    (
        OMNI,
        "kling-3.0-omni",
        {
            "contents": [
                {"type": "prompt", "text": "x"},
                {"type": "base_video", "url": "https://example.com/v.mp4"},
            ]
        },
        "contents[1].type",
        "'base_video' is not supported",
    ),  # noqa: E501
    (
        OMNI,
        "kling-3.0-omni",
        {
            "contents": [
                {"type": "prompt", "text": "x"},
                {"type": "element", "element_id": "1", "id": "e"},
            ]
        },
        "contents[1].type",
        "'element' is not supported",
    ),  # noqa: E501
    (
        OMNI,
        "kling-3.0-omni",
        {"contents": [{"type": "refer_image", "url": FRAME}]},
        "contents[].text",
        "required",
    ),  # noqa: E501
    (
        OMNI,
        "kling-3.0-omni",
        {"contents": [{"type": "prompt", "text": "x"}], "settings": {"audio": "original"}},
        "settings.audio",
        "reference video",
    ),  # noqa: E501
    (
        OMNI,
        "kling-o1",
        {"contents": [{"type": "prompt", "text": "x"}], "settings": {"duration": 15}},
        "settings.duration",
        "3 to 10",
    ),  # noqa: E501
    (
        OMNI,
        "kling-3.0-omni",
        {
            "contents": [{"type": "prompt", "text": "x"}]
            + [{"type": "refer_image", "url": FRAME}] * 8
        },
        "contents",
        "at most 7",
    ),  # noqa: E501
    (
        OMNI,
        "kling-3.0-omni",
        {
            "contents": [
                {"type": "prompt", "text": "x"},
                {"type": "refer_image", "url": FRAME, "id": "a"},
                {"type": "refer_image", "url": FRAME, "id": "a"},
            ]
        },
        "contents[2].id",
        "twice",
    ),  # noqa: E501
    (
        OMNI,
        "kling-3.0-omni",
        {
            "contents": [
                {"type": "prompt", "text": "x"},
                {"type": "first_frame", "url": FRAME},
                {"type": "last_frame", "url": FRAME},
                {"type": "refer_image", "url": FRAME},
            ]
        },
        "contents[3]",
        "both first_frame and last_frame",
    ),  # noqa: E501
]


@pytest.mark.parametrize(("path", "model", "body", "field", "words"), BAD)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    app, path, model, body, field, words
):
    app, client = app
    before = state(app, client)
    resp = client.post(path.format(model), json=body)
    assert resp.status_code == 400, resp.text
    out = resp.json()
    assert set(out) == {"code", "message", "request_id"} and out["code"] == 1201, out
    assert out["message"].startswith(field + ":") or out["message"].startswith(field + "."), out
    assert words in out["message"], out["message"]
    assert "Traceback" not in out["message"] and "pydantic" not in out["message"]
    assert state(app, client) == before


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[1]", b'"x"'],
    ids=["empty", "broken", "array", "string"],
)
def test_malformed_bodies(app, body):
    app, client = app
    before = state(app, client)
    resp = client.post("/text-to-video/kling-2.6", content=body)
    assert resp.status_code == 400 and resp.json()["code"] in (1200, 1201), resp.text
    assert state(app, client) == before


def test_the_docs_examples_are_accepted(app):
    """Kling's own request examples (its reference pages), replayed as sent."""
    app, client = app
    options = {"external_task_id": "", "watermark_info": {"enabled": False}}
    examples = [
        ("/text-to-video/kling-3.0-turbo", {
            "prompt": "A girl sat on the train, looking out the window.",
            "options": options,
            "settings": {"duration": 3, "resolution": "720p", "aspect_ratio": "9:16"},
        }),
        ("/text-to-video/kling-2.6", {
            "prompt": "A girl sat on the train, looking out the window.",
            "settings": {"resolution": "1080p", "aspect_ratio": "9:16", "duration": 10},
            "options": {**options, "watermark_info": {"enabled": True}},
        }),
        ("/text-to-video/kling-3.0", {
            "prompt": "A girl sat on the train, looking out the window.",
            "settings": {"resolution": "1080p", "aspect_ratio": "16:9", "duration": 15,
                         "audio": "off", "multi_shot": True},
            "options": options,
        }),
        ("/image-to-video/kling-3.0", {
            "contents": [
                {"type": "prompt", "text": "A girl sat on the train."},
                {"type": "first_frame", "url": FRAME},
            ],
            "settings": {"resolution": "1080p", "duration": 10, "audio": "off",
                         "multi_shot": False},
            "options": options,
        }),
        ("/omni-video/kling-o1", {
            "contents": [
                {"type": "prompt", "text": "A girl sat on the train, like @image_2."},
                {"type": "first_frame", "url": FRAME, "id": "image_1"},
                {"type": "refer_image", "url": FRAME, "id": "image_2"},
            ],
            "settings": {"resolution": "1080p", "duration": 3, "audio": "off"},
            "options": {"external_task_id": ""},
        }),
    ]  # fmt: skip
    for path, body in examples:
        resp = client.post(path, json=body)
        assert resp.status_code == 200, (path, resp.text)
        data = resp.json()["data"]
        assert data["status"] == "submitted" and "external_id" not in data  # "" is none


def test_the_openapi_document_describes_each_endpoint(app):
    app, client = app
    doc = client.get("/openapi.json").json()
    for path in ("/text-to-video/{model}", "/image-to-video/{model}", "/omni-video/{model}"):
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        name = body["schema"]["$ref"].rsplit("/", 1)[1]
        assert name in doc["components"]["schemas"]
    settings = doc["components"]["schemas"]["TextSettings"]["properties"]
    assert {"duration", "aspect_ratio", "resolution", "audio", "multi_shot"} <= set(settings)
    assert "/tasks" in doc["paths"] and {"get", "post"} <= set(doc["paths"]["/tasks"])


def test_a_used_external_task_id_is_refused_naming_the_option(app):
    app, client = app
    body = {"prompt": "x", "options": {"external_task_id": "twice"}}
    assert client.post("/text-to-video/kling-2.6", json=body).status_code == 200
    before = state(app, client)
    resp = client.post("/text-to-video/kling-3.0", json=body)
    assert resp.status_code == 400 and resp.json()["code"] == 1201
    assert resp.json()["message"].startswith("options.external_task_id: 'twice' is already used")
    assert state(app, client) == before
