"""Error rendering in one place: a door with its own error format (as OpenAI's will be) gets
its shape on its own paths, in responses and in the OpenAPI document; Kling keeps its own."""

from __future__ import annotations

import json

import pytest
from fastapi.exceptions import RequestValidationError

from openkling import errors as e
from openkling.api import errors as api_errors
from openkling.api.app import create_app
from openkling.config import Settings

OPENAI_ERROR = {"$ref": "#/components/schemas/OpenAIErrorEnvelope"}
KLING_ERROR = {"$ref": "#/components/schemas/ErrorEnvelope"}


def test_each_door_renders_its_own_errors():
    exc = e.InvalidParameter("seconds: must be one of 4, 8, 12, 16, 20")
    theirs = api_errors.render("/v1/videos", exc, "rid-1")
    assert theirs.status_code == 400
    assert json.loads(theirs.body) == {
        "error": {
            "message": exc.message,
            "type": "invalid_request_error",
            "param": "seconds",
            "code": "invalid_value",
        }
    }
    for kling in ("/v1/videos/text2video", "/v1/videos/image2video/123", "/account/costs"):
        ours = api_errors.render(kling, exc, "rid-2")
        assert json.loads(ours.body) == {
            "code": 1201,
            "message": exc.message,
            "request_id": "rid-2",
        }
    busy = api_errors.raw_response("/v1/videos/video_1", e.ServerBusy(), "rid-3")
    assert busy.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"connection: close\r\n" in busy and b'"error"' in busy


def test_spent_credits_are_openai_s_429_not_to_be_retried_and_kling_s_402():
    theirs = api_errors.render("/v1/videos", e.InsufficientCredits(), "rid")
    assert theirs.status_code == 429 and theirs.headers["x-should-retry"] == "false"
    assert json.loads(theirs.body)["error"]["type"] == "insufficient_quota"
    ours = api_errors.render("/v1/videos/text2video", e.InsufficientCredits(), "rid")
    assert ours.status_code == 402 and "x-should-retry" not in ours.headers


def test_the_openapi_document_uses_each_door_s_error_model(tmp_path):
    doc = create_app(Settings(data_dir=tmp_path)).openapi()
    theirs = doc["paths"]["/v1/videos"]["post"]["responses"]["400"]
    assert theirs["content"]["application/json"]["schema"] == OPENAI_ERROR
    ours = doc["paths"]["/v1/videos/text2video"]["post"]["responses"]["400"]
    assert ours["content"]["application/json"]["schema"] == KLING_ERROR
    assert {"OpenAIErrorEnvelope", "ErrorEnvelope"} <= set(doc["components"]["schemas"])


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ({"type": "missing", "loc": ("body", "prompt")}, "prompt: is required"),
        ({"type": "int_parsing", "loc": ("query", "seconds")}, "seconds: must be an integer"),
        ({"type": "some_new_rule", "loc": ("body", "a", 0)}, "a.0: is not valid"),
        ({"type": "missing", "loc": ("body",)}, "request: is required"),
    ],
)
def test_validation_errors_are_told_in_our_words(error, message):
    exc = RequestValidationError([{**error, "msg": "Input should be a valid integer, unable"}])
    assert api_errors.validation_message(exc) == message
