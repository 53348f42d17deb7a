"""The SDK against a replay of the official host's responses: its ids, types and error quirks."""

from __future__ import annotations

import asyncio
import json

import httpx
import jwt
import pytest

from openkling.client import (
    APIError,
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Task,
    TaskFailedError,
    WaitTimeout,
)

from .conftest import ACCESS_KEY, SECRET_KEY, fixture

T2V = "/v1/videos/text2video"


def test_create_sends_only_the_given_fields_signed_with_a_kling_jwt(official):
    official.on("POST", T2V, "create_submitted")
    with official.client(base_url="https://api-singapore.klingai.com/v1/") as client:
        task = client.text2video.create(
            prompt="a lighthouse in a storm",
            model_name="kling-v2-6",
            duration=5,
            mode="pro",
            camera_control={"type": "simple", "config": {"zoom": 3}},
            sound=True,
            external_task_id="order-42",
        )

    request = official.requests[0]
    assert str(request.url) == "https://api-singapore.klingai.com/v1/videos/text2video"
    assert json.loads(request.content) == {
        "prompt": "a lighthouse in a storm",
        "model_name": "kling-v2-6",
        "duration": "5",
        "mode": "pro",
        "camera_control": {"type": "simple", "config": {"zoom": 3}},
        "sound": "on",
        "external_task_id": "order-42",
    }
    scheme, token = request.headers["authorization"].split(" ")
    assert scheme == "Bearer"
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
    assert claims["iss"] == ACCESS_KEY
    assert claims["exp"] - claims["nbf"] == 1800 + 5

    # the official create answer has no task_status_msg or final_unit_deduction
    assert task.task_id == "776532119146856507"
    assert task.task_status == "submitted"
    assert task.task_status_msg == ""
    assert task.final_unit_deduction is None
    assert task.external_task_id == "order-42"
    assert task.created_at == 1722769557708


def test_a_finished_task_keeps_the_official_types(official):
    official.on("GET", f"{T2V}/776532119146856507", "task_succeed")
    with official.client() as client:
        task = client.text2video.get("776532119146856507")
    assert isinstance(task.task_id, str) and len(task.task_id) == 18
    assert task.succeeded and task.is_terminal
    assert task.task_progress is None  # an openkling extension the official host lacks
    assert task.final_unit_deduction == "1"
    (video,) = task.videos
    assert video.duration == "5.1" and video.duration_seconds == 5.1
    assert video.url.startswith("https://v15-kling.klingcdn.com/")
    assert task.raw == fixture("task_succeed")["json"]["data"]


def test_get_by_external_task_id_asks_by_query(official):
    official.on("GET", T2V, "task_succeed")
    with official.client() as client:
        task = client.text2video.get(external_task_id="order-42")
    assert official.requests[0].url.params["external_task_id"] == "order-42"
    assert task.task_id == "776532119146856507"


def test_get_needs_exactly_one_id(official):
    with official.client() as client, pytest.raises(InvalidRequestError):
        client.text2video.get()
    assert official.requests == []


def test_list_reads_a_bare_array_and_iter_all_follows_pages(official):
    official.on("GET", T2V, "list_page1", "list_page2")
    with official.client() as client:
        tasks = list(client.text2video.iter_all(page_size=2))
    assert [t.task_id for t in tasks] == [
        "776532119146857001",
        "776532119146857000",
        "776532119146856507",
    ]
    assert tasks[1].videos[0].duration == "10.1"
    pages = [(r.url.params["pageNum"], r.url.params["pageSize"]) for r in official.requests]
    assert pages == [("1", "2"), ("2", "2")]


def test_costs_sums_the_packs_in_force(official):
    official.on("GET", "/account/costs", "costs")
    with official.client() as client:
        costs = client.account.costs(start_time=1, end_time=2)
    assert official.requests[0].url.params["start_time"] == "1"
    assert official.requests[0].url.params["end_time"] == "2"
    assert len(costs.resource_pack_subscribe_infos) == 2
    assert costs.remaining_quantity == 118.0  # the expired pack does not count
    assert costs.total_quantity == 200.0


ERRORS = [
    ("error_1004_token_expired", AuthenticationError, 401, 1004),
    ("error_1102_balance_http429", InsufficientCreditsError, 429, 1102),
    ("error_1103_no_permission", PermissionDeniedError, 403, 1103),
    ("error_1200_invalid", InvalidRequestError, 400, 1200),
    ("error_1201_http200", InvalidRequestError, 200, 1201),
    ("error_1203_not_found", NotFoundError, 404, 1203),
    ("error_1301_policy", InvalidRequestError, 400, 1301),
    ("error_1302_rate_limit", RateLimitError, 429, 1302),
    ("error_1303_concurrency", RateLimitError, 429, 1303),
    ("error_5000_internal", ServerError, 500, 5000),
    ("error_5001_unavailable", ServerError, 503, 5001),
]


@pytest.mark.parametrize(("name", "cls", "status", "code"), ERRORS)
def test_error_bodies_without_data_map_to_one_class_each(official, name, cls, status, code):
    official.on("POST", T2V, name)
    with official.client() as client, pytest.raises(cls) as info:
        client.text2video.create(prompt="x")
    body = fixture(name)["json"]
    assert "data" not in body
    error = info.value
    assert (error.status_code, error.code) == (status, code)
    assert error.message == body["message"]
    assert error.request_id == body["request_id"]
    assert error.body == body
    assert len(official.requests) == 1  # create is never retried


def test_1102_with_http_429_is_credits_and_not_retried(official):
    official.on("GET", "/account/costs", "error_1102_balance_http429", "costs")
    with official.client() as client, pytest.raises(InsufficientCreditsError):
        client.account.costs()
    assert len(official.requests) == 1


def test_business_error_with_http_200_is_still_an_error(official):
    official.on("GET", f"{T2V}/1", "error_1201_http200")
    with official.client() as client, pytest.raises(InvalidRequestError) as info:
        client.text2video.get("1")
    assert info.value.status_code == 200 and info.value.code == 1201


@pytest.mark.parametrize("first", ["error_1302_rate_limit", "error_1303_concurrency"])
def test_rate_limits_and_5xx_are_retried_on_gets(official, first):
    official.on("GET", f"{T2V}/776532119146856507", first, "error_5001_unavailable", "task_succeed")
    with official.client() as client:
        task = client.text2video.get("776532119146856507")
    assert task.succeeded
    assert len(official.requests) == 3


def test_retries_stop_at_max_retries(official):
    official.on("GET", T2V, "error_5000_internal")
    retry = RetryPolicy(max_retries=3, base_delay=0.0)
    with official.client(retry=retry) as client, pytest.raises(ServerError):
        client.text2video.list()
    assert len(official.requests) == 4


def test_max_retries_zero_sends_once(official):
    official.on("GET", T2V, "error_5000_internal")
    with official.client(retry=None, max_retries=0) as client, pytest.raises(ServerError):
        client.text2video.list()
    assert len(official.requests) == 1


def test_a_gateway_html_page_is_a_server_error(official):
    official.on("GET", T2V, "gateway_502_html")
    with official.client(max_retries=0, retry=None) as client, pytest.raises(ServerError) as info:
        client.text2video.list()
    assert info.value.status_code == 502 and info.value.code is None
    assert "502 Bad Gateway" in info.value.message


def test_wait_polls_until_succeed_and_reports_each_poll(official):
    path = f"{T2V}/776532119146856507"
    official.on("POST", T2V, "create_submitted")
    official.on("GET", path, "task_processing", "task_processing", "task_succeed")
    seen: list[str] = []
    with official.client() as client:
        task = client.text2video.create_and_wait(
            prompt="x", poll_interval=0, on_progress=lambda t: seen.append(t.task_status)
        )
    assert task.succeeded
    assert seen == ["submitted", "processing", "processing", "succeed"]


def test_wait_raises_task_failed_with_the_status_message(official):
    official.on("GET", f"{T2V}/776532119146856999", "task_failed")
    with official.client() as client, pytest.raises(TaskFailedError) as info:
        client.text2video.wait("776532119146856999", poll_interval=0)
    assert info.value.task_status_msg == "Failure to pass the risk control system"
    assert info.value.task.failed


def test_wait_raises_wait_timeout_carrying_the_last_state(official):
    official.on("GET", f"{T2V}/776532119146856507", "task_processing")
    with official.client() as client, pytest.raises(WaitTimeout) as info:
        client.text2video.wait("776532119146856507", timeout=0, poll_interval=0)
    assert isinstance(info.value, TimeoutError)
    assert info.value.task.task_status == "processing"


def test_download_needs_a_finished_task(official):
    official.on("GET", f"{T2V}/776532119146856507", "task_processing")
    with official.client() as client, pytest.raises(InvalidRequestError):
        client.text2video.download("776532119146856507")


def test_async_client_mirrors_the_sync_one(official):
    official.on("POST", T2V, "create_submitted")
    official.on("GET", f"{T2V}/776532119146856507", "task_processing", "task_succeed")
    official.on("GET", T2V, "list_page1", "list_page2")
    official.on("GET", "/account/costs", "error_1102_balance_http429")

    async def main():
        async with official.async_client() as client:
            seen = []

            async def on_progress(task: Task) -> None:
                seen.append(task.task_status)

            task = await client.text2video.create_and_wait(
                prompt="x", poll_interval=0, on_progress=on_progress
            )
            listed = [t.task_id async for t in client.text2video.iter_all(page_size=2)]
            with pytest.raises(InsufficientCreditsError) as info:
                await client.account.costs()
            return task, seen, listed, info.value

    task, seen, listed, error = asyncio.run(main())
    assert task.videos[0].duration == "5.1"
    assert seen == ["submitted", "processing", "succeed"]
    assert len(listed) == 3
    assert (error.status_code, error.code) == (429, 1102)


def test_an_unknown_status_and_code_is_a_plain_api_error(official):
    official.handler = lambda request: httpx.Response(418, json={"code": 7777})
    with official.client() as client, pytest.raises(APIError) as info:
        client.text2video.list()
    assert type(info.value) is APIError
    assert (info.value.status_code, info.value.code) == (418, 7777)
