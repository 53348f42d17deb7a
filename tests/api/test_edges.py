"""Small edges of the HTTP surface: /media never answers 500, one Authorization header only,
405 with Allow and 404 / 1202, /readyz tells anonymous callers no addresses, and no message
carries Python exception text."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from support.accounts import make_token
from support.harness import AppServer
from support.server import LiveServer, free_port

PATH = "/v1/videos/text2video"
SIG = "0" * 64


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(data_dir=tmp_path_factory.mktemp("edges"), socket=True) as server:
        yield server


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def video_url(server) -> str:
    task_id = server.request("POST", PATH, json={"prompt": "a lantern in fog"}).json()["data"][
        "task_id"
    ]
    task = server.wait_task(task_id)
    assert task["task_status"] == "succeed", task
    return task["task_result"]["videos"][0]["url"]


def assert_error(resp: httpx.Response, status: int, code: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["code"] == code, body
    assert body["request_id"] == resp.headers["x-request-id"]
    assert_no_exception_text(body["message"])
    return body["message"]


# Words of Python's and its libraries' exception texts; none belongs in an API message.
EXCEPTION_TEXT = re.compile(
    r"codec|can't decode|Expecting (value|property)|char \d+|Traceback|Error\b|Exception"
    r"|invalid literal|Invalid (header|payload|crypto)|must be an integer\.$|Not enough segments"
)


def assert_no_exception_text(message: str) -> None:
    assert not EXCEPTION_TEXT.search(message), message


# ---- /media ----------------------------------------------------------------------------------


def media_parts(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path, query["expires"][0], query["signature"][0]


BAD_QUERIES = {
    "superscript two": "expires=%C2%B2&signature={sig}",
    "arabic-indic digits": "expires=%D9%A1%D9%A2%D9%A3&signature={sig}",
    "overlong number": "expires=" + "9" * 5000 + "&signature={sig}",
    "long but valid-looking": "expires=" + "9" * 30 + "&signature={sig}",
    "negative": "expires=-1&signature={sig}",
    "float": "expires=1e12&signature={sig}",
    "spaces": "expires=%20{exp}%20&signature={sig}",
    "missing expires": "signature={sig}",
    "missing signature": "expires={exp}",
    "missing both": "",
    "empty both": "expires=&signature=",
    "non-ascii signature": "expires={exp}&signature=%C3%A9" + "0" * 62,
    "non-hex signature": "expires={exp}&signature=" + "z" * 64,
    "short signature": "expires={exp}&signature=abc",
    "upper-case signature": "expires={exp}&signature={upper}",
    "signature of another expiry": "expires={later}&signature={sig}",
    "expired": "expires=1&signature={sig}",
    "nul in expires": "expires=1%00&signature={sig}",
    "repeated parameters": "expires={exp}&expires=1&signature=x&signature={sig}",
}


@pytest.mark.parametrize("case", list(BAD_QUERIES))
def test_media_answers_403_to_any_bad_signature(http, video_url, case):
    path, expires, signature = media_parts(video_url)
    query = BAD_QUERIES[case].format(
        sig=signature, exp=expires, upper=signature.upper(), later=int(expires) + 1
    )
    resp = http.get(f"{path}?{query}")
    assert "invalid or has expired" in assert_error(resp, 403, 1000)


@pytest.mark.parametrize(
    "key",
    ["videos/..%2F..%2Fopenkling.db", "..%2Furl-signing.key", "videos/%00x.mp4", "%FF%FE.mp4"],
)
def test_media_odd_keys_are_403_not_500(http, key):
    resp = http.get(f"/media/{key}?expires=99999999999&signature={SIG}")
    assert_error(resp, 403, 1000)


def test_media_a_valid_url_downloads_and_a_tampered_key_does_not(http, video_url):
    assert httpx.get(video_url, timeout=30).content[4:8] == b"ftyp"
    path, expires, signature = media_parts(video_url)
    cover = path.replace(".mp4", ".jpg")  # a real file, but not the one signed
    assert_error(http.get(f"{cover}?expires={expires}&signature={signature}"), 403, 1000)


# ---- Authorization -------------------------------------------------------------------------


def test_two_authorization_headers_are_ambiguous(server, http):
    good = f"Bearer {make_token(server.access_key, server.secret_key)}"
    other = server.new_account(credits=1)
    for pair in [
        (good, "Bearer nonsense"),
        ("Bearer nonsense", good),
        (good, good),
        (good, f"Bearer {other.secret_key}"),
    ]:
        headers = [("Authorization", value) for value in pair]
        resp = http.get("/account/costs", headers=headers)
        assert "one Authorization header" in assert_error(resp, 401, 1002)
        resp = http.post(PATH, headers=headers, json={"prompt": "x"})
        assert_error(resp, 401, 1002)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


BAD_TOKENS = {
    "not utf-8 in the header segment": b64(b"\xff\xfe\xfd") + ".e30.c2ln",
    "not utf-8 in the claims": b64(b'{"alg":"HS256"}') + "." + b64(b"\xff\xfe") + ".c2ln",
    "claims not json": b64(b'{"alg":"HS256"}') + "." + b64(b"{{") + ".c2ln",
    "bad padding": "a.b.c",
    "claims an array": b64(b'{"alg":"HS256"}') + "." + b64(b"[1]") + ".c2ln",
    "four segments as an api key": "a.b.c.d",
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_tokens_get_plain_words(http, case):
    resp = http.get("/account/costs", headers={"Authorization": f"Bearer {BAD_TOKENS[case]}"})
    assert_error(resp, 401, 1002)


def test_a_non_numeric_exp_gets_plain_words(server, http):
    import jwt

    token = jwt.encode({"iss": server.access_key, "exp": "soon"}, server.secret_key)
    resp = http.get("/account/costs", headers={"Authorization": f"Bearer {token}"})
    assert "'exp'" in assert_error(resp, 401, 1002)


def test_a_non_latin1_authorization_header_gets_plain_words(server):
    # raw bytes on the wire (httpx would refuse to send them)
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"GET /account/costs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer \xc3\xa9\xff.\xfe.\x80\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 401 "), data
    assert_no_exception_text(data.decode("latin-1"))


@pytest.mark.parametrize(
    "body",
    [
        b'{"prompt": "x",',
        b"{'prompt': 'x'}",
        b'{"prompt": "\xff\xfe"}',
        b'{"prompt": "x"} trailing',
        b'{"prompt": "x", "cfg_scale": NaN}',
        b"\xef\xbb\xbf\xef\xbb\xbf{}",
    ],
)
def test_bad_json_gets_plain_words(server, http, body):
    message = assert_error(http.post(PATH, headers=server.headers(), content=body), 400, 1200)
    assert "JSON" in message


def test_bad_json_message_says_where(server, http):
    resp = http.post(PATH, headers=server.headers(), content=b'{\n  "prompt": "x",\n}')
    assert "line 3, column 1" in assert_error(resp, 400, 1200)


# ---- methods and paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", PATH, "GET, POST"),
        ("DELETE", PATH, "GET, POST"),
        ("PUT", f"{PATH}/123", "GET"),
        ("PATCH", "/account/costs", "GET"),
        ("POST", "/healthz", "GET"),
        ("TRACE", "/media/videos/x.mp4", "GET"),
        ("GET", f"{PATH}/123/cancel", "POST"),
        ("OPTIONS", PATH, "GET, POST"),
    ],
)
def test_a_method_a_path_does_not_serve_is_405_with_allow(server, http, method, path, allow):
    resp = http.request(method, path, headers=server.headers())
    message = assert_error(resp, 405, 1202)
    assert resp.headers["allow"] == allow
    assert method in message and allow in message


@pytest.mark.parametrize("method", ["GET", "POST", "TRACE", "DELETE"])
@pytest.mark.parametrize(
    "path", ["/v1/videos/text2video/1/nothing", "/v2/videos/text2video", "/account"]
)
def test_an_unknown_path_is_404_1202(server, http, method, path):
    resp = http.request(method, path, headers=server.headers())
    assert "no such endpoint" in assert_error(resp, 404, 1202)


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_an_unknown_path_under_openai_s_door_is_404_in_openai_s_shape(server, http, method):
    """Paths below an OpenAI video id are OpenAI's; any other name under /v1/videos is a Kling
    family's (docs/doors.md)."""
    resp = http.request(method, "/v1/videos/video_123/nothing", headers=server.headers())
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["code"] == "not_found" and "no such endpoint" in error["message"]
    resp = http.request(method, "/v1/videos/nothing", headers=server.headers())
    assert "no such endpoint" in assert_error(resp, 404, 1202)


# ---- /readyz ------------------------------------------------------------------------------


def test_readyz_tells_anonymous_callers_no_addresses_or_credentials(tmp_path):
    """A broken broker is reported as broken, with no URL, host, port or password."""
    port = free_port()
    env = {
        "OPENKLING_DISPATCHER": "celery",
        "OPENKLING_BROKER_URL": f"redis://openkling:hunter2secret@127.0.0.1:{port}/0",
        "OPENKLING_DATABASE_URL": f"sqlite:///{tmp_path / 'private-name.db'}",
    }
    server = LiveServer(data_dir=tmp_path / "ready", env=env).start()
    try:
        resp = httpx.get(server.base_url + "/readyz", timeout=30)
    finally:
        server.stop()
    assert resp.status_code == 503
    body = resp.json()
    assert body == {
        "status": "unavailable",
        "checks": {"database": "ok", "dispatcher": "error", "storage": "ok"},
    }
    for secret in ("hunter2secret", "openkling:", "127.0.0.1", str(port), "redis", "private-name"):
        assert secret not in resp.text
    assert "hunter2secret" not in server.log()  # nor does the log, which names the failure
    assert "readiness: dispatcher failed" in server.log()
