"""The SDK and CLI with Kling's 2026 API against a real server: typed records, sync and async,
`wait`, the /tasks batch and pages, downloads measured with PyAV; `generate --api 2026`."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from openkling.cli.generate2026 import shot_prompt
from openkling.cli.main import main
from openkling.client import AsyncKling, InvalidRequestError, Kling, NotFoundError, Shot, TaskRecord
from openkling.client._base2026 import settings_and_options
from openkling.media.encode import probe
from pictures import encode, gradient


def test_keyword_arguments_fill_settings_and_options():
    body = settings_and_options(
        settings={"duration": 10}, duration=5, resolution="1080p", watermark=True,
        external_task_id="e1",
    )  # fmt: skip
    assert body == {
        "settings": {"duration": 10, "resolution": "1080p"},
        "options": {"external_task_id": "e1", "watermark_info": {"enabled": True}},
    }
    assert shot_prompt([Shot("a village", 3), Shot("a car; red", 4)]) == (
        "shot 1, 3, a village; shot 2, 4, a car, red;"
    )


def test_sync_sdk_creates_waits_finds_and_downloads(live_server, tmp_path):
    with Kling(base_url=live_server.base_url, api_key=live_server.secret_key) as client:
        record = client.text_to_video.create_and_wait(
            model="kling-3.0",
            prompt="shot 1, 1, a red door; shot 2, 2, a blue door;",
            duration=3,
            aspect_ratio="1:1",
            external_task_id="sdk-2026",
            timeout=120,
            poll_interval=0.2,
        )
        assert isinstance(record, TaskRecord) and record.status == "succeeded"
        assert record.video is not None and record.video.seconds == pytest.approx(3.0, abs=0.1)
        assert record.billing[0].charge_type == "unit"
        assert client.tasks.get(external_task_id="sdk-2026").id == record.id
        assert [r.id for r in client.tasks.get_many([record.id, "000000000000000000"])] == [
            record.id
        ]
        with pytest.raises(NotFoundError):
            client.tasks.get("000000000000000000")
        assert record.id in [r.id for r in client.tasks.iter_all(limit=1)]
        page = client.tasks.list(limit=1, status=["succeeded"])
        assert page.count == 1 and page.result[0].status == "succeeded"

        path = client.tasks.download(record, tmp_path)
        info = probe(path)
        assert info.width == info.height and abs(info.duration - 3.0) <= 0.1

        picture = tmp_path / "first.png"
        picture.write_bytes(encode(gradient(480, 480, seed=3)))
        moving = client.image_to_video.create(model="kling-2.6", first_frame=picture)
        assert moving.status == "submitted" and moving.outputs == []
        done = client.tasks.wait(moving, timeout=120, poll_interval=0.2)
        assert done.video is not None and done.video.seconds == pytest.approx(5.0, abs=0.1)

        with pytest.raises(InvalidRequestError) as bad:
            client.text_to_video.create(model="kling-2.6", prompt="x", duration=7)
        assert bad.value.code == 1201 and "settings.duration" in str(bad.value)


def test_async_sdk_mirrors_the_sync_one(live_server):
    async def run() -> tuple[TaskRecord, list[str]]:
        async with AsyncKling(base_url=live_server.base_url, api_key=live_server.secret_key) as c:
            record = await c.text_to_video.create_and_wait(
                model="kling-2.5-turbo", prompt="a kite", timeout=120, poll_interval=0.2
            )
            ids = [r.id async for r in c.tasks.iter_all(limit=2)]
            return record, ids

    record, ids = asyncio.run(run())
    assert record.status == "succeeded" and record.id in ids


def test_cli_generate_api_2026_with_shots(live_server, tmp_path):
    env = {
        "KLING_BASE_URL": live_server.base_url,
        "KLING_API_KEY": live_server.secret_key,
        "KLING_ACCESS_KEY": "",
        "KLING_SECRET_KEY": "",
    }
    out = tmp_path / "shots.mp4"
    args = ["generate", "--api", "2026", "--shot", "1:a lamp", "--shot", "2:a chair"]
    args += ["--aspect-ratio", "9:16", "-o", str(out)]
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert abs(info.duration - 3.0) <= 0.1 and info.height > info.width

    refused = CliRunner().invoke(main, ["generate", "x", "--api", "2026", "--mode", "pro"], env=env)
    assert refused.exit_code == 2 and "--resolution" in refused.output


def test_sdk_reads_kling_2026_answers_from_the_official_host(official):
    """The official host, replayed from the shapes of Kling's reference pages."""
    official.on("GET", "/tasks", "tasks_2026_succeeded")
    official.on("POST", "/tasks", "tasks_2026_page")
    with official.client() as client:
        record = client.tasks.get(external_task_id="storyboard-7")
        assert record.status == "succeeded" and record.external_id == "storyboard-7"
        assert record.video is not None and record.video.seconds == pytest.approx(7.04)
        assert record.video.watermark_url.endswith("_wm.mp4")
        assert record.billing[0].charge_type == "cash" and record.billing[0].amount == "1.40"
        page = client.tasks.list(limit=1, status=["processing"], product_type=["video"])
        assert page.has_more and page.next_cursor == "eyJwIjoiMiJ9" and page.count == 1
    get, post = official.requests
    assert get.url.params["external_task_ids"] == "storyboard-7"
    assert json.loads(post.content) == {
        "limit": 1,
        "filters": [
            {"key": "status", "values": ["processing"]},
            {"key": "product_type", "values": ["video"]},
        ],
    }
