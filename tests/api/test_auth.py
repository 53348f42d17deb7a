"""The auth matrix against a real server: each failure gets 401 and its own Kling code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
import jwt
import pytest

from support.accounts import make_token
from support.harness import AppServer

ENV = {"OPENKLING_WORKERS": "0", "OPENKLING_RATE_LIMIT_PER_MINUTE": "0"}
ENDPOINTS = [
    ("GET", "/account/costs"),
    ("GET", "/v1/videos/text2video"),
    ("GET", "/v1/videos/text2video/123456789012345678"),
    ("POST", "/v1/videos/text2video"),
    ("POST", "/v1/videos/text2video/123456789012345678/cancel"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(data_dir=tmp_path_factory.mktemp("auth"), env=ENV) as server:
        yield server


@pytest.fixture(scope="module")
def http(server):
    return server.client


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_token(header: dict, claims: dict, secret: str | None = None, digest=hashlib.sha256) -> str:
    """A JWT made by hand, so header and claims can say anything; HMAC-signed when ``secret``."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(mac)}"


def claims_for(server: AppServer, **extra) -> dict:
    now = int(time.time())
    return {"iss": server.access_key, "exp": now + 1800, "nbf": now - 5, **extra}


def call(http, authorization: str | None, method="GET", path="/account/costs"):
    headers = {} if authorization is None else {"Authorization": authorization}
    body = {"prompt": "a lighthouse at night"} if method == "POST" else None
    return http.request(method, path, headers=headers, json=body)


def assert_error(resp: httpx.Response, status: int, code: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["request_id"], str) and body["request_id"]
    assert body["request_id"] == resp.headers["x-request-id"]
    return body


def bearer(token: str) -> str:
    return f"Bearer {token}"


CASES = {
    "garbage token": lambda s: bearer("not-a-token"),
    "garbage with dots": lambda s: bearer("a.b.c"),
    "access key as api key": lambda s: bearer(s.access_key),
    "basic scheme": lambda s: f"Basic {base64.b64encode(b'user:pass').decode()}",
    "token without scheme": lambda s: make_token(s.access_key, s.secret_key),
    "scheme without token": lambda s: "Bearer",
    "wrong secret": lambda s: bearer(
        make_token(s.access_key, "sk-not-the-secret-key-000000000000")
    ),
    "alg none": lambda s: bearer(hand_token({"alg": "none", "typ": "JWT"}, claims_for(s))),
    "alg none with a signature": lambda s: bearer(
        hand_token({"alg": "none", "typ": "JWT"}, claims_for(s))[:-1] + ".c2lnbmF0dXJl"
    ),
    "alg None spelled otherwise": lambda s: bearer(
        hand_token({"alg": "None", "typ": "JWT"}, claims_for(s))
    ),
    "HS256 signature under an HS512 header": lambda s: bearer(
        hand_token({"alg": "HS512", "typ": "JWT"}, claims_for(s), s.secret_key)
    ),
    "HS512": lambda s: bearer(
        hand_token({"alg": "HS512", "typ": "JWT"}, claims_for(s), s.secret_key, hashlib.sha512)
    ),
    "HS384": lambda s: bearer(
        hand_token({"alg": "HS384", "typ": "JWT"}, claims_for(s), s.secret_key, hashlib.sha384)
    ),
    "unknown access key": lambda s: bearer(make_token("ak-nobody-has-this-key", s.secret_key)),
    "no iss": lambda s: bearer(
        jwt.encode({k: v for k, v in claims_for(s).items() if k != "iss"}, s.secret_key)
    ),
    "iss not a string": lambda s: bearer(
        hand_token({"alg": "HS256", "typ": "JWT"}, claims_for(s, iss=7), s.secret_key)
    ),
    "exp missing": lambda s: bearer(
        jwt.encode({k: v for k, v in claims_for(s).items() if k != "exp"}, s.secret_key)
    ),
    "exp not a number": lambda s: bearer(jwt.encode(claims_for(s, exp="soon"), s.secret_key)),
    "payload not json": lambda s: bearer(
        b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + b64url(b"not json") + ".c2ln"
    ),
    "header not json": lambda s: bearer(
        b64url(b"{{{") + "." + b64url(json.dumps(claims_for(s)).encode()) + ".c2ln"
    ),
    "tampered claims": lambda s: bearer(
        ".".join(
            [
                make_token(s.access_key, s.secret_key).split(".")[0],
                b64url(json.dumps(claims_for(s, exp=int(time.time()) + 10**6)).encode()),
                make_token(s.access_key, s.secret_key).split(".")[2],
            ]
        )
    ),
    # expired AND badly signed: the signature is checked first, so this is invalid, not expired
    "expired with a wrong signature": lambda s: bearer(
        make_token(s.access_key, "sk-wrong-0000000000000000000000000000", exp=int(time.time()) - 60)
    ),
}


def test_no_header_is_1001(server, http):
    for method, path in ENDPOINTS:
        assert_error(call(http, None, method, path), 401, 1001)


def test_empty_header_is_1001(server, http):
    # Kling's 1001 is "Authorization is empty": a header with nothing in it says the same
    assert_error(call(http, ""), 401, 1001)


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_token_is_1002(server, http, case):
    authorization = CASES[case](server)
    body = assert_error(call(http, authorization), 401, 1002)
    assert "data" not in body


def test_invalid_token_refused_on_every_endpoint(server, http):
    token = bearer(hand_token({"alg": "none", "typ": "JWT"}, claims_for(server)))
    for method, path in ENDPOINTS:
        assert_error(call(http, token, method, path), 401, 1002)


def test_expired_is_1004(server, http):
    now = int(time.time())
    token = make_token(server.access_key, server.secret_key, exp=now - 60, nbf=now - 120)
    for method, path in ENDPOINTS:
        assert_error(call(http, bearer(token), method, path), 401, 1004)


def test_not_yet_valid_is_1003(server, http):
    now = int(time.time())
    token = make_token(server.access_key, server.secret_key, nbf=now + 60)
    for method, path in ENDPOINTS:
        assert_error(call(http, bearer(token), method, path), 401, 1003)


def test_small_clock_skew_accepted(server, http):
    now = int(time.time())
    token = make_token(server.access_key, server.secret_key, nbf=now + 3, exp=now - 3)
    resp = call(http, bearer(token))
    assert resp.status_code == 200, resp.text
    assert resp.json()["code"] == 0


def test_valid_jwt_accepted_without_nbf(server, http):
    token = jwt.encode({"iss": server.access_key, "exp": int(time.time()) + 60}, server.secret_key)
    assert call(http, bearer(token)).status_code == 200


def test_hand_made_hs256_token_accepted(server, http):
    # the same bytes a Kling client writes: proves the hand-made tokens above differ only
    # in what each case changes
    token = hand_token({"alg": "HS256", "typ": "JWT"}, claims_for(server), server.secret_key)
    assert call(http, bearer(token)).status_code == 200


def test_plain_api_key_accepted(server, http):
    resp = call(http, bearer(server.secret_key))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 0 and body["message"] == "SUCCEED"
    # and it acts as its account: creating a task works with it
    created = call(http, bearer(server.secret_key), "POST", "/v1/videos/text2video")
    assert created.status_code == 200, created.text
    task_id = created.json()["data"]["task_id"]
    got = server.request("GET", f"/v1/videos/text2video/{task_id}")
    assert got.status_code == 200 and got.json()["data"]["task_id"] == task_id


def test_bearer_scheme_is_case_insensitive(server, http):
    token = make_token(server.access_key, server.secret_key)
    assert call(http, f"bearer {token}").status_code == 200


def test_other_accounts_secret_does_not_sign_for_this_one(server, http):
    other = server.new_account(credits=10)
    token = make_token(server.access_key, other.secret_key)
    assert_error(call(http, bearer(token)), 401, 1002)
    assert call(http, bearer(make_token(other.access_key, other.secret_key))).status_code == 200


def test_success_envelope_and_request_id(server, http):
    resp = call(http, bearer(make_token(server.access_key, server.secret_key)))
    body = resp.json()
    assert set(body) == {"code", "message", "request_id", "data"}
    assert body["code"] == 0 and body["message"] == "SUCCEED"
    assert body["request_id"] == resp.headers["x-request-id"]
    again = call(http, bearer(make_token(server.access_key, server.secret_key)))
    assert again.json()["request_id"] != body["request_id"]


def test_health_needs_no_auth(http):
    assert http.get("/healthz").status_code == 200
