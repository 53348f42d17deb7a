"""Unknown paths answer in the envelope of the door they belong to (api/doors.py): under the
shared /v1/videos prefix, OpenAI video ids and OpenAI's own names are OpenAI's, every other
name is Kling's. In-process, over create_app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.convertors import CONVERTOR_TYPES

from openkling.api import errors as api_errors
from openkling.api.app import create_app
from openkling.api.doors import speaks_openai
from openkling.config import Settings
from openkling.runtime import build_runtime
from openkling.tasks.accounts import create_account


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("doors"), workers=0)
    runtime = build_runtime(settings)
    with runtime.sessions.begin() as session:
        secret = create_account(session, name="doors", credits_amount=100).secret_key
    with TestClient(create_app(runtime=runtime)) as http:
        http.headers["Authorization"] = f"Bearer {secret}"
        yield http


def kling_404(resp) -> str:
    assert resp.status_code == 404, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"} and body["code"] == 1202, body
    return body["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/videos/lip-sync"),  # Kling serves it; this deployment does not
        ("GET", "/v1/videos/lip-sync/123"),
        ("POST", "/v1/videos/multi-elements"),
        ("POST", "/v1/videos/avatar/image2video"),
        ("GET", "/v1/videos/omni-video/42"),
        ("DELETE", "/v1/videos/lip-sync"),
    ],
)
def test_an_unknown_kling_path_answers_kling_s_404(client, method, path):
    message = kling_404(client.request(method, path, json={"prompt": "a fox"}))
    assert message == f"no such endpoint: {method} {path}"


def test_an_unknown_kling_path_is_kling_s_even_without_credentials(client):
    resp = client.post("/v1/videos/lip-sync", headers={"Authorization": ""}, json={})
    kling_404(resp)


def test_an_openai_video_id_stays_openai_s(client):
    resp = client.get("/v1/videos/video_123")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "video_not_found"
    foreign = client.get("/v1/videos/video_68d7512d07848190b3e45da0ecbebcde")  # OpenAI's form
    assert foreign.status_code == 404 and foreign.json()["error"]["param"] == "video_id"
    unknown = client.get("/v1/videos/video_123/frames")  # under an id: still OpenAI's
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    bare = client.get("/v1/videos/video_")  # the prefix alone: still an id's form
    assert bare.status_code == 404 and bare.json()["error"]["code"] == "not_found"
    not_offered = client.post("/v1/videos/edits", json={})
    assert (
        not_offered.status_code == 404 and "video edits" in not_offered.json()["error"]["message"]
    )
    listed = client.get("/v1/videos", params={"limit": "0"})
    assert listed.status_code == 400 and listed.json()["error"]["param"] == "limit"


def test_kling_families_keep_their_own_routes_and_methods(client):
    resp = client.delete("/v1/videos/text2video")
    assert resp.status_code == 405 and resp.json()["code"] == 1202
    assert "POST" in resp.headers["allow"]
    assert client.get("/v1/videos/text2video/123").json()["code"] == 1203


def test_the_rule_covers_paths_and_document_templates():
    openai = [
        "/v1/videos",
        "/v1/videos/",
        "/v1/videos/video_1",
        "/v1/videos/video_1/content",
        "/v1/videos/video_{id}",
        "/v1/videos/video_{id}/remix",
        "/v1/videos/video_",
        "/v1/videos/edits",
        "/v1/videos/characters/ch_1",
    ]
    kling = [
        "/v1/videos/text2video",
        "/v1/videos/image2video/{task_id}",
        "/v1/videos/effects",
        "/v1/videos/video-extend",
        "/v1/images/x",
        "/account/costs",
        "/v1/videosx",
    ]
    assert all(speaks_openai(p) for p in openai)
    assert not any(speaks_openai(p) for p in kling)


def test_importing_the_openai_routes_changes_no_global_state():
    import openkling.api.routes.openai_videos  # noqa: F401

    assert "video_id" not in CONVERTOR_TYPES  # the routes are /v1/videos/video_{id}...
    assert isinstance(api_errors.ERROR_SHAPES, tuple)  # a fixed table, not appended to
