"""Error rendering in one place: a door with its own error format (as OpenAI's will be) gets
its shape on its own paths, in responses and in the OpenAPI document; Kling keeps its own."""

from __future__ import annotations

import json

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from openkling import errors as e
from openkling.api import errors as api_errors
from openkling.api.app import create_app
from openkling.config import Settings


class OtherError(BaseModel):
    error: dict


def other_body(exc: e.OpenklingError, request_id: str) -> dict:
    return {"error": {"message": exc.message, "type": "invalid_request_error"}}


@pytest.fixture
def other_door():
    shape = api_errors.ErrorShape(
        matches=lambda path: path == "/v1/videos" or path.startswith("/v1/videos/video_"),
        body=other_body,
        model=OtherError,
    )
    api_errors.ERROR_SHAPES.append(shape)
    yield shape
    api_errors.ERROR_SHAPES.remove(shape)


def test_a_door_renders_its_own_errors_and_kling_keeps_its_envelope(other_door):
    exc = e.InvalidParameter("seconds: must be 4, 8 or 12")
    theirs = api_errors.render("/v1/videos", exc, "rid-1")
    assert theirs.status_code == 400
    assert json.loads(theirs.body) == other_body(exc, "rid-1")
    ours = api_errors.render("/v1/videos/text2video", exc, "rid-2")
    assert json.loads(ours.body) == {"code": 1201, "message": exc.message, "request_id": "rid-2"}
    busy = api_errors.raw_response("/v1/videos/video_1", e.ServerBusy(), "rid-3")
    assert busy.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"connection: close\r\n" in busy and b'"error"' in busy


def test_the_openapi_document_uses_the_door_s_error_model(other_door, tmp_path):
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/v1/videos")
    def listing():  # a stand-in route of the other door
        return {}

    doc = app.openapi()
    theirs = doc["paths"]["/v1/videos"]["get"]["responses"]["400"]
    assert theirs["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OtherError"
    }
    assert "OtherError" in doc["components"]["schemas"]
    ours = doc["paths"]["/v1/videos/text2video"]["post"]["responses"]["400"]
    assert ours["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")


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
