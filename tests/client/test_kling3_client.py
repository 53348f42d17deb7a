"""The SDK and CLI with Kling 3's fields: shots, watermark_info, watermark_url; the CLI's
`--shot` and `--watermark` against a real server, the files measured with PyAV."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from openkling.cli.client import parse_shots
from openkling.cli.main import main
from openkling.client import Kling, Shot, Video
from openkling.client._base import create_body
from openkling.media.encode import probe


def test_shots_and_watermark_become_kling_fields():
    body = create_body(
        prompt="",
        model_name="kling-v3",
        multi_prompt=[Shot("a quiet village", 3), Shot("a red car", 4)],
        watermark_info=True,
    )
    assert body == {
        "prompt": "",
        "model_name": "kling-v3",
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "a quiet village", "duration": "3"},
            {"index": 2, "prompt": "a red car", "duration": "4"},
        ],
        "duration": "7",
        "watermark_info": {"enabled": True},
    }


def test_given_fields_win_over_the_implied_ones():
    body = create_body(
        prompt="x",
        multi_prompt=[{"index": 5, "prompt": "a", "duration": "3"}],
        shot_type="customize",
        duration=3,
        watermark_info={"enabled": False},
    )
    assert body["multi_prompt"] == [{"index": 5, "prompt": "a", "duration": "3"}]
    assert body["duration"] == "3" and body["watermark_info"] == {"enabled": False}


def test_video_reads_watermark_url():
    video = Video.from_dict({"id": "1", "url": "u", "duration": "7.0", "watermark_url": "w"})
    assert video.watermark_url == "w"
    assert Video.from_dict({"id": "1", "url": "u"}).watermark_url is None


def test_shot_option_parsing():
    assert parse_shots(("3:a quiet village", " 4 : a red car ")) == [
        Shot("a quiet village", 3),
        Shot("a red car", 4),
    ]
    for bad in ("a quiet village", "x:a car", "3:", ":a car"):
        with pytest.raises(click.BadParameter, match="SECONDS:PROMPT"):
            parse_shots((bad,))


def test_sdk_multi_shot_task_against_the_server(live_server):
    with Kling(
        base_url=live_server.base_url,
        access_key=live_server.access_key,
        secret_key=live_server.secret_key,
    ) as client:
        task = client.text2video.create_and_wait(
            prompt="",
            model_name="kling-v3",
            multi_prompt=[Shot("a quiet village", 2), Shot("a red car", 1)],
            watermark_info=True,
            timeout=300,
            poll_interval=0.2,
        )
    assert task.succeeded, task.task_status_msg
    (video,) = task.videos
    assert abs(video.duration_seconds - 3.0) <= 0.1
    assert video.watermark_url and video.watermark_url != video.url


def test_cli_generate_with_shots_and_watermark(live_server, tmp_path):
    out = tmp_path / "story.mp4"
    env = {
        "KLING_BASE_URL": live_server.base_url,
        "KLING_ACCESS_KEY": live_server.access_key,
        "KLING_SECRET_KEY": live_server.secret_key,
        "KLING_API_KEY": None,
    }
    args = ["generate", "--shot", "3:a quiet village", "--shot", "4:a red car", "--watermark"]
    args += ["-o", str(out), "--poll-interval", "0.2"]
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    marked = tmp_path / "story.watermark.mp4"
    assert result.stdout.split() == [str(out), str(marked)]
    for path in (out, marked):
        info = probe(path)
        assert abs(info.duration - 7.0) <= 0.1 and info.num_frames == round(7 * info.fps)
    assert out.read_bytes() != marked.read_bytes()


def test_cli_needs_a_prompt_or_shots(live_server):
    env = {"KLING_BASE_URL": live_server.base_url, "KLING_ACCESS_KEY": live_server.access_key}
    result = CliRunner().invoke(main, ["generate"], env={**env, "KLING_SECRET_KEY": "s"})
    assert result.exit_code == 2 and "--shot" in result.output
