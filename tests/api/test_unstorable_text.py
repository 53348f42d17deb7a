"""Text no field allows (NUL, other control characters, lone surrogates) is refused where it
enters, on PostgreSQL, which cannot store NUL: 400 / 1200 in the door's shape for the path,
query and headers, 400 / 1201 naming the field for a body's field, 401 for a token; never a
500. And the JWT's time claims: numbers only, a capped lifetime, a future
``iat`` named as such."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest

from support.harness import AppServer

T2V = "/v1/videos/text2video"


@pytest.fixture
def server(pg_module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """A new app and account per test, on one PostgreSQL database for the module."""
    env = {"OPENKLING_DATABASE_URL": pg_module_url, "OPENKLING_WORKERS": "0"}
    with AppServer(data_dir=tmp_path_factory.mktemp("unstorable"), env=env) as s:
        yield s


def token(server: AppServer, **claims: object) -> dict[str, str]:
    now = int(time.time())
    payload: dict[str, object] = {"iss": server.access_key, "exp": now + 1800, "nbf": now - 5}
    payload.update(claims)
    signed = jwt.encode(payload, server.secret_key, algorithm="HS256")
    return {"Authorization": f"Bearer {signed}", "Content-Type": "application/json"}


def no_server_error(server: AppServer) -> None:
    log = server.log()
    assert "DataError" not in log and "Traceback" not in log, log[-3000:]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{T2V}/%00"),
        ("GET", f"{T2V}?external_task_id=%00"),
        ("GET", f"{T2V}?external_task_id=a%1Bb"),
        ("POST", f"{T2V}/%00/cancel"),
        ("GET", f"{T2V}/%00/request"),
        ("GET", f"{T2V}/%00/events"),
        ("GET", "/v1/videos/image2video/abc%00def"),
    ],
)
def test_nul_in_the_path_or_query_is_400_1200(server: AppServer, method: str, path: str) -> None:
    response = server.request(method, path)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 1200
    assert "U+00" in body["message"] and ("path" in body["message"] or "query" in body["message"])
    no_server_error(server)


def test_nul_in_the_openai_path_is_400_in_openais_shape(server: AppServer) -> None:
    response = server.request("GET", "/v1/videos/video_%00")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "NUL" in error["message"]
    no_server_error(server)


def test_nul_in_a_json_body_names_the_field(server: AppServer) -> None:
    response = server.request("POST", T2V, json={"prompt": "a red\u0000 fox"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 1201  # a field's value: the field named, as its check does
    assert "prompt: holds NUL" in response.json()["message"]
    raw = b'{"prompt": "a fox", "external_task_id": "x\\ud800"}'  # a JSON escape, alone
    response = server.request("POST", T2V, content=raw, headers=server.headers())
    assert response.status_code == 400, response.text
    assert "external_task_id: holds a lone surrogate" in response.json()["message"]
    listed = server.request("GET", T2V).json()["data"]
    assert listed == []
    no_server_error(server)


def test_nul_in_a_jwt_claim_is_401(server: AppServer) -> None:
    for claims in ({"iss": "\x00" + server.access_key}, {"sub": "me\x00"}):
        response = server.request("GET", T2V, headers=token(server, **claims))
        assert response.status_code == 401, response.text
        assert response.json()["code"] == 1002
        assert "NUL" in response.json()["message"]
    no_server_error(server)


def test_jwt_times_must_be_numbers(server: AppServer) -> None:
    later = str(int(time.time()) + 600)
    for name in ("exp", "nbf"):
        response = server.request("GET", T2V, headers=token(server, **{name: later}))
        assert response.status_code == 401, response.text
        assert response.json()["code"] == 1002
        assert f"'{name}' must be a number" in response.json()["message"]


def test_jwt_lifetime_is_capped(server: AppServer) -> None:
    year_3000 = 32503680000
    response = server.request("GET", T2V, headers=token(server, exp=year_3000))
    assert response.status_code == 401, response.text
    assert "at most 86400 s" in response.json()["message"]
    fine = server.request("GET", T2V, headers=token(server, exp=int(time.time()) + 86000))
    assert fine.status_code == 200, fine.text


def test_a_future_iat_is_named(server: AppServer) -> None:
    response = server.request("GET", T2V, headers=token(server, iat=int(time.time()) + 3600))
    assert response.status_code == 401, response.text
    assert response.json()["code"] == 1003
    assert "'iat'" in response.json()["message"]
