"""contract/model.py: a door's request model reads a body in openkling's words, and the one
translation turns any pydantic error into openkling's message; pydantic's text never shows."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from openkling.api.app import create_app
from openkling.config import Settings
from openkling.contract import openai as oa
from openkling.contract.kling.image2video import Image2VideoRequest
from openkling.contract.kling.text2video import Text2VideoRequest, parse_text2video
from openkling.contract.model import Reads, RequestModel, translate, validate
from openkling.domain.catalog import default_catalog
from openkling.errors import InvalidParameter

CATALOG = default_catalog()
PYDANTIC_WORDS = ("Input should", "validation error", "pydantic", "Field required", "type=")


class Shot(BaseModel):
    seconds: int = Field(..., ge=1, le=15)


class Plain(RequestModel):
    """A model with pydantic's own rules only: what translate must put in our words."""

    count: int = 1
    name: Annotated[str, Field(max_length=3)] = "a"
    kind: Annotated[str, Field(pattern="^x")] = "x"
    shots: list[Shot] = Field(default_factory=list, max_length=2)
    needed: str


def refused(body: object) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as info:
        validate(Plain, body)
    return info.value


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"count": 1}, "needed: is required"),
        ({"needed": "x", "count": "many"}, "count: must be an integer"),
        ({"needed": "x", "count": 1.5}, "count: must be an integer"),
        ({"needed": "x", "name": "abcd"}, "name: must be at most 3 characters"),
        ({"needed": "x", "name": 7}, "name: must be a string"),
        ({"needed": "x", "shots": [{"seconds": 0}]}, "shots.0.seconds: must be at least 1"),
        ({"needed": "x", "shots": [{}, {}, {}]}, "shots: must have at most 2 items"),
        ({"needed": "x", "shots": {"a": 1}}, "shots: must be a list"),
        ({"needed": "x", "kind": "y"}, "kind: is not valid"),  # a rule with no words: generic
        ([], "request: must be a JSON object"),
    ],
)
def test_pydantic_errors_are_told_in_openkling_words(body, message):
    error = refused(body)
    assert error.message == message and error.code == 1201
    assert error.param == message.split(":")[0]
    assert not any(words in error.message for words in PYDANTIC_WORDS)


def test_the_first_field_at_fault_in_declaration_order_is_reported():
    assert refused({"count": "x", "name": 7}).message == "count: must be an integer"


def test_a_reader_s_refusal_keeps_its_message_and_param():
    def read(value, field, info):
        raise InvalidParameter(f"{field}: must be 'yes', got {value!r}", param=field)

    class Asks(RequestModel):
        answer: Annotated[str, Reads(read, wire=str)] = "yes"

    with pytest.raises(ValidationError) as info:
        Asks.model_validate({"answer": "no"})
    error = translate(info.value)
    assert (error.message, error.param) == ("answer: must be 'yes', got 'no'", "answer")


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": 5},
        {"prompt": "p", "duration": [1]},
        {"prompt": "p", "camera_control": {"type": "simple", "config": {"zoom": "x"}}},
        {"prompt": "p", "multi_shot": True, "model_name": "kling-v3", "shot_type": 3},
        {
            "prompt": "p",
            "multi_shot": True,
            "model_name": "kling-v3",
            "shot_type": "customize",
            "multi_prompt": [{"index": "a", "prompt": "x", "duration": "5"}],
        },
        {"prompt": "p", "watermark_info": []},
        {"prompt": "p", "seed": 1.5},
        {"prompt": "p", "callback_url": "ftp://x"},
        {"prompt": "p", "model": ["kling-v1"]},
    ],
)
def test_kling_refusals_name_the_field_in_openkling_words(body):
    with pytest.raises(InvalidParameter) as info:
        parse_text2video(body, CATALOG)
    assert not any(words in info.value.message for words in PYDANTIC_WORDS)
    assert ": " in info.value.message


def test_openai_refusals_are_openai_params_in_openkling_words():
    targets = oa.model_targets({}, CATALOG)
    for body, param in [
        ({"prompt": "p", "size": 5}, "size"),
        ({"prompt": "p", "seconds": [4]}, "seconds"),
        ({"prompt": "p", "extra": 1}, "extra"),
        ({}, "prompt"),
        ({"prompt": "p", "input_reference": {"image_url": 3}}, "input_reference.image_url"),
    ]:
        with pytest.raises(InvalidParameter) as info:
            oa.parse_create(body, targets)
        assert oa.error_body(info.value)["error"]["param"] == param  # as the wire shows it
        assert not any(words in info.value.message for words in PYDANTIC_WORDS)


def test_the_openapi_document_shows_the_models_that_read_the_bodies(tmp_path):
    doc = create_app(Settings(data_dir=tmp_path)).openapi()
    schemas = doc["components"]["schemas"]
    ref = "#/components/schemas/{model}"
    for model in (
        Text2VideoRequest,
        Image2VideoRequest,
        oa.VideoCreateRequest,
        oa.VideoCreateForm,
        oa.VideoRemixRequest,
    ):
        schema = model.model_json_schema(ref_template=ref)
        for name, sub in schema.pop("$defs", {}).items():
            assert schemas[name] == sub
        assert schemas[model.__name__] == schema
    body = doc["paths"]["/v1/videos/image2video"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/Image2VideoRequest")
    camera = schemas["CameraConfig"]["properties"]["zoom"]
    assert (camera["minimum"], camera["maximum"]) == (-10, 10)
    form = doc["paths"]["/v1/videos"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert form["schema"]["$ref"].endswith("/VideoCreateForm")
    assert schemas["VideoCreateForm"]["properties"]["input_reference"]["format"] == "binary"
