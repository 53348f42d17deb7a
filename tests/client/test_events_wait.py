"""The SDK's wait (and the CLI's bar) follow the task's event stream where the server offers
one, and poll where it does not: the official host, or a gateway that answers 404."""

from __future__ import annotations

import asyncio

import httpx
from click.testing import CliRunner

from openkling.cli.main import main
from openkling.client import AsyncKling, Kling
from pictures import encode, gradient

from .conftest import OFFICIAL

T2V = "/v1/videos/text2video"
TASK = "776532119146856507"
NEVER = 3600.0  # a poll interval no test could wait out: success means the stream was used


def recorder():
    paths: list[str] = []
    return paths, {"request": [lambda request: paths.append(request.url.path)]}


def test_wait_follows_the_event_stream_with_no_polling(live_server):
    paths, hooks = recorder()
    seen = []
    with Kling(
        base_url=live_server.base_url,
        api_key=live_server.secret_key,
        http_client=httpx.Client(event_hooks=hooks),
    ) as client:
        task = client.text2video.create_and_wait(
            prompt="a harbour at dawn",
            timeout=120,
            poll_interval=NEVER,
            on_progress=lambda t: seen.append((t.task_status, t.task_progress)),
        )
    assert task.succeeded and task.videos[0].url
    assert paths == [T2V, f"{T2V}/{task.task_id}/events"]
    assert seen[0][0] == "submitted" and seen[-1] == ("succeed", 100)
    assert [p for _, p in seen] == sorted(p for _, p in seen)


def test_async_wait_follows_the_event_stream(live_server):
    paths: list[str] = []

    async def record(request: httpx.Request) -> None:
        paths.append(request.url.path)

    hooks = {"request": [record]}

    async def run():
        async with AsyncKling(
            base_url=live_server.base_url,
            api_key=live_server.secret_key,
            http_client=httpx.AsyncClient(event_hooks=hooks),
        ) as client:
            return await client.text2video.create_and_wait(
                prompt="a harbour at dusk", timeout=120, poll_interval=NEVER
            )

    task = asyncio.run(run())
    assert task.succeeded
    assert paths == [T2V, f"{T2V}/{task.task_id}/events"]


def test_cli_progress_bar_is_fed_by_the_stream(live_server):
    result = CliRunner().invoke(
        main,
        [
            "tasks",
            "wait",
            live_server.request("POST", T2V, json={"prompt": "a comet"}).json()["data"]["task_id"],
            "--poll-interval",
            str(NEVER),
            "--timeout",
            "120",
            "--base-url",
            live_server.base_url,
        ],
        env={
            "KLING_API_KEY": live_server.secret_key,
            "KLING_ACCESS_KEY": "",
            "KLING_SECRET_KEY": "",
        },
    )
    assert result.exit_code == 0, result.output
    assert "succeed" in result.output


def test_the_official_host_is_polled_without_trying_a_stream(official):
    official.on("GET", f"{T2V}/{TASK}", "task_processing", "task_succeed")
    with official.client(base_url=OFFICIAL) as client:
        assert client.text2video.wait(TASK, poll_interval=0).succeeded
    assert [r.url.path for r in official.requests] == [f"{T2V}/{TASK}"] * 2


def test_a_server_without_events_is_polled_and_not_asked_again(official):
    official.on("GET", f"{T2V}/{TASK}/events", "gateway_404_html")
    official.on("GET", f"{T2V}/{TASK}", "task_processing", "task_succeed", "task_succeed")
    with official.client(base_url="https://kling-gateway.example.com") as client:
        assert client.text2video.wait(TASK, poll_interval=0).succeeded
        assert client.text2video.wait(TASK, poll_interval=0).succeeded
    assert [r.url.path for r in official.requests] == [
        f"{T2V}/{TASK}/events",
        f"{T2V}/{TASK}",
        f"{T2V}/{TASK}",
        f"{T2V}/{TASK}",  # the second wait goes straight to polling
    ]


def test_image2video_wait_follows_its_own_doors_stream(live_server):
    paths, hooks = recorder()
    with Kling(
        base_url=live_server.base_url,
        api_key=live_server.secret_key,
        http_client=httpx.Client(event_hooks=hooks),
    ) as client:
        task = client.image2video.create_and_wait(
            image=encode(gradient(400, 300)), prompt="waves", timeout=120, poll_interval=NEVER
        )
    assert task.succeeded
    i2v = "/v1/videos/image2video"
    assert paths == [i2v, f"{i2v}/{task.task_id}/events"]
