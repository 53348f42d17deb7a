"""The SDK and CLI against real `openkling serve` processes: videos, and every error class
produced by a real server response."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from click.testing import CliRunner

from openkling.cli.main import main
from openkling.client import (
    AsyncKling,
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    Kling,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TaskFailedError,
    WaitTimeout,
)

from .conftest import assert_playable_mp4

SMALL = {"mode": "std", "duration": "5"}  # servers run with OPENKLING_STD_SHORT_SIDE=144


def kling(server, account=None, **kwargs) -> Kling:
    account = account or server.account
    return Kling(
        base_url=server.base_url,
        access_key=account.access_key,
        secret_key=account.secret_key,
        **kwargs,
    )


def counting(server, account=None, **kwargs) -> tuple[Kling, list[str]]:
    """A client that records the method of every request it sends."""
    sent: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: sent.append(request.method)]})
    return kling(server, account, http_client=http, **kwargs), sent


def cli(server, *args: str, account=None):
    account = account or server.account
    env = {
        "KLING_BASE_URL": server.base_url,
        "KLING_ACCESS_KEY": account.access_key,
        "KLING_SECRET_KEY": account.secret_key,
        "KLING_API_KEY": None,
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


# ---- videos ------------------------------------------------------------------------------


def test_create_and_wait_then_download_a_playable_mp4(live_server, tmp_path):
    seen: list[tuple[str, int | None]] = []
    with kling(live_server) as client:
        task = client.text2video.create_and_wait(
            prompt="a lighthouse in a storm",
            **SMALL,
            poll_interval=0.1,
            timeout=120,
            on_progress=lambda t: seen.append((t.task_status, t.task_progress)),
        )
        path = client.text2video.download(task, tmp_path / "storm.mp4")
    assert seen[0][0] == "submitted" and seen[-1] == ("succeed", 100)
    assert task.final_unit_deduction == "10"
    (video,) = task.videos
    width, height = assert_playable_mp4(path, seconds=video.duration_seconds)
    assert min(width, height) == 144
    assert abs(video.duration_seconds - 5.0) < 0.25


def test_async_create_and_wait_then_download(live_server, tmp_path):
    async def main_():
        async with AsyncKling(
            base_url=live_server.base_url + "/v1",
            access_key=live_server.access_key,
            secret_key=live_server.secret_key,
        ) as client:
            task = await client.text2video.create_and_wait(
                prompt="a lighthouse in a storm, async", **SMALL, poll_interval=0.1
            )
            return task, await client.text2video.download(task.task_id, tmp_path)

    task, path = asyncio.run(main_())
    assert path == tmp_path / f"{task.task_id}.mp4"
    assert_playable_mp4(path, seconds=task.videos[0].duration_seconds)


def test_get_list_external_id_and_costs(live_server):
    external = f"order-{uuid.uuid4().hex[:8]}"
    with kling(live_server) as client:
        before = client.account.costs().remaining_quantity
        task = client.text2video.create(
            prompt="a quiet harbour", external_task_id=external, **SMALL
        )
        assert client.account.costs().remaining_quantity == before - 10
        assert isinstance(task.task_id, str) and task.task_id.isdigit()
        assert client.text2video.get(task.task_id).task_id == task.task_id
        assert client.text2video.get(external_task_id=external).task_id == task.task_id
        assert task.task_id in [t.task_id for t in client.text2video.list(page=1, page_size=50)]
        every = list(client.text2video.iter_all(page_size=1))
        assert task.task_id in [t.task_id for t in every]
        assert len({t.task_id for t in every}) == len(every)
        client.text2video.wait(task, poll_interval=0.1, timeout=120)


def test_a_plain_api_key_works(live_server):
    with Kling(base_url=live_server.base_url, api_key=live_server.secret_key) as client:
        assert client.account.costs().resource_pack_subscribe_infos


def test_download_resumes_a_partial_file_with_a_range_request(live_server, tmp_path):
    with kling(live_server) as client:
        task = client.text2video.create_and_wait(prompt="a slow tide", **SMALL, poll_interval=0.1)
        whole = client.text2video.download(task, tmp_path / "whole.mp4").read_bytes()
    (tmp_path / "resumed.mp4.part").write_bytes(whole[: len(whole) // 3])
    ranges: list[str | None] = []
    http = httpx.Client(event_hooks={"request": [lambda r: ranges.append(r.headers.get("range"))]})
    with kling(live_server, http_client=http) as client:
        path = client.text2video.download(task.videos[0].url, tmp_path / "resumed.mp4")
    assert ranges == [f"bytes={len(whole) // 3}-"]
    assert path.read_bytes() == whole
    assert not (tmp_path / "resumed.mp4.part").exists()


# ---- every error class from a real response ----------------------------------------------


def test_bad_keys_are_an_authentication_error(live_server):
    with Kling(
        base_url=live_server.base_url,
        access_key=live_server.access_key,
        secret_key="sk-wrong-0123456789abcdef0123456789",
    ) as client:
        with pytest.raises(AuthenticationError) as info:
            client.text2video.list()
    assert (info.value.status_code, info.value.code) == (401, 1002)
    assert info.value.request_id
    with Kling(base_url=live_server.base_url, api_key="not-a-key") as client:
        with pytest.raises(AuthenticationError):
            client.account.costs()


def test_invalid_parameters_are_an_invalid_request_error(live_server):
    with kling(live_server) as client:
        with pytest.raises(InvalidRequestError) as info:
            client.text2video.create(prompt="x", duration="7")
        assert (info.value.status_code, info.value.code) == (400, 1201)
        assert "duration" in info.value.message
        with pytest.raises(InvalidRequestError, match="kling-v2-6"):
            client.text2video.create(prompt="x", model_name="kling-v9")


def test_an_unknown_task_is_not_found(live_server):
    with kling(live_server) as client:
        with pytest.raises(NotFoundError) as info:
            client.text2video.get("000000000000000000")
        assert (info.value.status_code, info.value.code) == (404, 1203)
        with pytest.raises(NotFoundError):
            client.text2video.get(external_task_id="never-used")


def error_line(result) -> str:
    """The error the CLI printed, after the line naming the server it talked to."""
    server_line, *rest = result.stderr.strip().splitlines()
    assert server_line.startswith("openkling: server http://127.0.0.1:"), result.stderr
    return rest[-1] if rest else ""


def test_few_credits_are_insufficient(live_server):
    poor = live_server.new_account(credits=5)
    client, sent = counting(live_server, poor)
    with client, pytest.raises(InsufficientCreditsError) as info:
        client.text2video.create(prompt="a lighthouse", **SMALL)
    assert (info.value.status_code, info.value.code) == (402, 1102)
    assert sent == ["POST"]
    result = cli(live_server, "generate", "a lighthouse", "--duration", "5", account=poor)
    assert result.exit_code == 6, result.output
    assert error_line(result).startswith("error: insufficient credits:")


def test_rate_limit_is_a_rate_limit_error_and_create_is_not_retried(app_factory):
    server = app_factory(socket=True, env={"OPENKLING_RATE_LIMIT_PER_MINUTE": "2"})
    client, sent = counting(server)
    with client:
        client.text2video.create(prompt="one", **SMALL)
        client.text2video.create(prompt="two", **SMALL)
        with pytest.raises(RateLimitError) as info:
            client.text2video.create(prompt="three", **SMALL)
    assert (info.value.status_code, info.value.code) == (429, 1302)
    assert sent == ["POST"] * 3
    result = cli(server, "generate", "four")
    assert result.exit_code == 7, result.output
    assert error_line(result).startswith("error: rate limited:")


def test_maintenance_is_a_server_error_retried_only_on_gets(app_factory):
    server = app_factory(socket=True, env={"OPENKLING_MAINTENANCE": "1"})
    retry = RetryPolicy(max_retries=1, base_delay=0.0, max_retry_after=0.0)
    client, sent = counting(server, retry=retry)
    with client:
        with pytest.raises(ServerError) as info:
            client.text2video.list()
        assert (info.value.status_code, info.value.code) == (503, 5001)
        assert sent == ["GET", "GET"]
        sent.clear()
        with pytest.raises(ServerError):
            client.text2video.create(prompt="x")
        assert sent == ["POST"]
    result = cli(server, "tasks", "list")
    assert result.exit_code == 8, result.output
    assert error_line(result).startswith("error: server error:")


def test_generation_failure_and_policy_refusal(app_factory, tmp_path):
    server = app_factory(
        socket=True,
        env={"OPENKLING_TASK_TIMEOUT_SECONDS": "0.001", "OPENKLING_REFUSED_TERMS": "zeppelin"},
    )
    with kling(server) as client:
        before = client.account.costs().remaining_quantity
        with pytest.raises(TaskFailedError) as info:
            client.text2video.create_and_wait(prompt="a lighthouse", **SMALL, poll_interval=0.1)
        assert "timed out" in info.value.task_status_msg
        assert info.value.task.final_unit_deduction == "0"
        assert client.account.costs().remaining_quantity == before  # refunded
        with pytest.raises(InvalidRequestError) as refused:
            client.text2video.create(prompt="a zeppelin over the sea", **SMALL)
        assert (refused.value.status_code, refused.value.code) == (400, 1301)

    result = cli(server, "generate", "a lighthouse", "-o", str(tmp_path / "x.mp4"))
    assert result.exit_code == 9, result.output
    assert result.stderr.splitlines()[-1].startswith("error: task failed:")
    assert not (tmp_path / "x.mp4").exists()
    result = cli(server, "generate", "a zeppelin")
    assert result.exit_code == 4, result.output


def test_wait_timeout_and_cancel_on_a_server_with_no_worker(app_factory):
    server = app_factory(socket=True, env={"OPENKLING_WORKERS": "0"})
    with kling(server) as client:
        task = client.text2video.create(prompt="never rendered", **SMALL)
        with pytest.raises(WaitTimeout) as info:
            client.text2video.wait(task.task_id, timeout=0.3, poll_interval=0.1)
        assert info.value.task.task_status == "submitted"

        result = cli(server, "tasks", "wait", task.task_id, "--timeout", "0.3")
        assert result.exit_code == 10, result.output
        assert result.stderr.splitlines()[-1].startswith("error: timed out:")

        cancelled = client.text2video.cancel(task.task_id)
        assert cancelled.failed
        with pytest.raises(TaskFailedError):
            client.text2video.wait(task.task_id, poll_interval=0.1)
        with pytest.raises(InvalidRequestError):
            client.text2video.cancel(task.task_id)  # already finished

        other = client.text2video.create(prompt="also never rendered", **SMALL)
    result = cli(server, "tasks", "cancel", other.task_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{other.task_id} failed")
    result = cli(server, "tasks", "cancel", other.task_id)
    assert result.exit_code == 4, result.output
