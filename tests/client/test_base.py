"""Client configuration, JWT reuse, the error mapping and the retry policy."""

from __future__ import annotations

import httpx
import jwt
import pytest

import openkling.client as sdk
from openkling.client import (
    OFFICIAL_BASE_URL,
    APIConnectionError,
    AsyncKling,
    AuthenticationError,
    ConfigurationError,
    InsufficientCreditsError,
    InvalidRequestError,
    Kling,
    KlingError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Task,
)
from openkling.client._base import TokenSigner, error_class


def test_public_surface_is_sorted_and_complete():
    assert sdk.__all__ == sorted(sdk.__all__)
    for name in ("Kling", "AsyncKling", "KlingError", "TaskFailedError", "WaitTimeout"):
        assert name in sdk.__all__


def _recording_client(**kwargs) -> tuple[Kling, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"code": 0, "message": "SUCCEED", "data": []})

    client = Kling(http_client=httpx.Client(transport=httpx.MockTransport(handler)), **kwargs)
    return client, seen


def test_credentials_and_base_url_come_from_the_environment(monkeypatch, no_kling_env):
    monkeypatch.setenv("KLING_ACCESS_KEY", "ak-env")
    monkeypatch.setenv("KLING_SECRET_KEY", "sk-env-0123456789abcdef0123456789ab")
    monkeypatch.setenv("KLING_BASE_URL", "http://kling.internal:8000/v1/")
    client, seen = _recording_client()
    client.text2video.list()
    assert str(seen[0].url).startswith("http://kling.internal:8000/v1/videos/text2video?")
    token = seen[0].headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, "sk-env-0123456789abcdef0123456789ab", algorithms=["HS256"])
    assert claims["iss"] == "ak-env"


def test_a_plain_api_key_is_sent_as_the_bearer_token(monkeypatch, no_kling_env):
    monkeypatch.setenv("KLING_API_KEY", "sk-plain")
    client, seen = _recording_client(base_url=OFFICIAL_BASE_URL)  # chosen by name
    client.account.costs()
    assert seen[0].headers["authorization"] == "Bearer sk-plain"
    assert str(seen[0].url).startswith("https://api-singapore.klingai.com/account/costs?")


def test_arguments_beat_the_environment(monkeypatch, no_kling_env):
    monkeypatch.setenv("KLING_API_KEY", "from-env")
    client, seen = _recording_client(
        access_key="ak-arg", secret_key="sk-arg-0123456789abcdef0123456789ab", base_url="http://h"
    )
    client.text2video.list()
    token = seen[0].headers["authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "ak-arg"

    client, seen = _recording_client(api_key="from-arg", base_url="http://h")
    client.text2video.list()
    assert seen[0].headers["authorization"] == "Bearer from-arg"


def test_missing_credentials_fail_at_construction(no_kling_env):
    with pytest.raises(AuthenticationError, match="KLING_ACCESS_KEY"):
        Kling()
    with pytest.raises(AuthenticationError, match="KLING_SECRET_KEY"):
        Kling(access_key="ak-only")


def test_a_base_url_must_be_http(no_kling_env):
    with pytest.raises(KlingError, match="base URL"):
        Kling(api_key="k", base_url="ftp://example.com")


def test_the_token_is_reused_until_a_minute_before_it_expires():
    now = [1_000_000.0]
    signer = TokenSigner("ak", "sk-0123456789abcdef0123456789abcdef", clock=lambda: now[0])
    first = signer.token()
    now[0] += 1800 - 61
    assert signer.token() == first
    now[0] += 2
    second = signer.token()
    assert second != first
    claims = jwt.decode(
        second,
        "sk-0123456789abcdef0123456789abcdef",
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert claims == {"iss": "ak", "exp": int(now[0]) + 1800, "nbf": int(now[0]) - 5}


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (429, 1102, InsufficientCreditsError),  # the official service's spelling
        (402, 1102, InsufficientCreditsError),  # openkling's
        (200, 1201, InvalidRequestError),
        (400, 1203, NotFoundError),  # the code wins over the status
        (401, None, AuthenticationError),
        (403, None, PermissionDeniedError),
        (404, None, NotFoundError),
        (429, None, RateLimitError),
        (502, None, ServerError),
        (503, 5001, ServerError),
        (429, 1303, RateLimitError),
        (400, 1301, InvalidRequestError),
    ],
)
def test_error_class_maps_code_first_then_status(status, code, cls):
    assert error_class(status, code) is cls


def test_retry_policy_retries_only_transient_errors_on_idempotent_calls():
    policy = RetryPolicy(max_retries=2, base_delay=0.5, max_delay=8.0)
    busy = RateLimitError("slow down", status_code=429, code=1302)
    broke = InsufficientCreditsError("no credits", status_code=429, code=1102)
    down = ServerError("down", status_code=503, code=5001)
    refused = APIConnectionError("refused")
    for error in (busy, down, refused):
        first = policy.delay(error, 0, idempotent=True)
        assert first is not None and 0.25 <= first <= 0.5
        assert policy.delay(error, 0, idempotent=False) is None
        assert policy.delay(error, 2, idempotent=True) is None
    assert policy.delay(broke, 0, idempotent=True) is None
    assert policy.delay(InvalidRequestError("bad", status_code=400), 0, idempotent=True) is None


def test_retry_after_is_honoured_up_to_a_cap():
    policy = RetryPolicy(max_retries=2, base_delay=0.0, max_retry_after=5.0)
    busy = RateLimitError("slow down", status_code=429, code=1302)
    busy.retry_after = 3.0
    assert policy.delay(busy, 0, idempotent=True) == 3.0
    busy.retry_after = 600.0
    assert policy.delay(busy, 0, idempotent=True) == 5.0


def test_task_parsing_tolerates_unknown_and_odd_fields():
    task = Task.from_dict(
        {
            "task_id": 776532119146856507,  # a number where a string belongs
            "task_status": "processing",
            "created_at": "1722769557708",
            "task_progress": 40,
            "task_result": {"videos": [{"id": "v", "url": "u", "duration": 5.1, "new": 1}]},
            "brand_new_field": {"x": 1},
        }
    )
    assert task.task_id == "776532119146856507"
    assert task.created_at == 1722769557708
    assert task.task_progress == 40
    assert task.videos[0].duration == "5.1"
    assert task.raw["brand_new_field"] == {"x": 1}
    assert not task.is_terminal


def test_keys_go_only_to_a_host_the_user_named(monkeypatch, no_kling_env):
    monkeypatch.setenv("KLING_API_KEY", "sk-plain")
    with pytest.raises(ConfigurationError, match="no server named") as refused:
        _recording_client()
    assert "KLING_BASE_URL" in str(refused.value) and "OFFICIAL_BASE_URL" in str(refused.value)
    with pytest.raises(ConfigurationError):
        AsyncKling(api_key="k")
