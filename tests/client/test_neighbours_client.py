"""The SDK's video_extend, multi_image2video and effects resources (sync and async), and the
`openkling extend` / `effect` / `multi-image` commands, against a real server; the files they
download measured with PyAV."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest
from click.testing import CliRunner

from openkling.cli.main import main
from openkling.client import AsyncKling, InvalidRequestError, Kling, Task
from pictures import encode
from support.harness import AppServer

FPS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = AppServer(
        socket=True,
        data_dir=tmp_path_factory.mktemp("neighbours-sdk"),
        env={"OPENKLING_FPS": str(FPS), "OPENKLING_WORKERS": "2"},
    )
    s.start()
    yield s
    s.stop()


def client(server) -> Kling:
    return Kling(
        base_url=server.base_url, access_key=server.access_key, secret_key=server.secret_key
    )


def frames(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def flat(colour) -> bytes:
    picture = np.empty((400, 400, 3), np.uint8)
    picture[:] = colour
    return encode(picture)


def share(frame, colour) -> float:
    return float(np.mean(np.abs(frame.astype(int) - colour).sum(axis=2) < 40))


def test_sync_extend_twice_and_download(server, tmp_path):
    with client(server) as kling:
        parent = kling.text2video.create_and_wait(prompt="a windmill", poll_interval=0.2)
        first = kling.video_extend.create_and_wait(
            video_id=parent.videos[0].id, prompt="the sails turn", poll_interval=0.2
        )
        assert isinstance(first, Task) and first.parent_video is not None
        assert first.parent_video.id == parent.videos[0].id
        second = kling.video_extend.create_and_wait(video_id=first.videos[0].id, poll_interval=0.2)
        assert second.parent_video.id == first.videos[0].id
        path = kling.video_extend.download(second, tmp_path / "long.mp4")
        assert kling.video_extend.get(second.task_id).task_id == second.task_id
        assert second.task_id in [t.task_id for t in kling.video_extend.list(page_size=50)]
        with pytest.raises(InvalidRequestError, match="video_id"):
            kling.video_extend.create(video_id="no-such-video-1")
    assert len(frames(path)) == 3 * 5 * FPS  # the parent and two extensions of 5 s


def test_async_effects_and_multi_image(server, tmp_path):
    red, blue, green = (220, 40, 40), (40, 60, 220), (40, 180, 60)

    async def go():
        async with AsyncKling(
            base_url=server.base_url, access_key=server.access_key, secret_key=server.secret_key
        ) as kling:
            scenes = await kling.effects.scenes()
            assert {"zoom_out", "hug_pro"} <= {s["effect_scene"] for s in scenes}
            hug = await kling.effects.create_and_wait(
                effect_scene="hug_pro", images=[flat(red), flat(blue)], poll_interval=0.2
            )
            multi = await kling.multi_image2video.create_and_wait(
                prompt="friends", images=[flat(red), flat(green)], poll_interval=0.2
            )
            return (
                await kling.effects.download(hug, tmp_path / "hug.mp4"),
                await kling.multi_image2video.download(multi, tmp_path / "multi.mp4"),
            )

    hug, multi = asyncio.run(go())
    last = frames(hug)[-1]
    assert share(last, red) > 0.15 and share(last, blue) > 0.15
    middle = frames(multi)[FPS * 2]
    assert share(middle, red) > 0.03 and share(middle, green) > 0.03


def test_cli_extend_effect_and_multi_image(server, tmp_path):
    env = {
        "KLING_BASE_URL": server.base_url,
        "KLING_ACCESS_KEY": server.access_key,
        "KLING_SECRET_KEY": server.secret_key,
        "KLING_API_KEY": None,
    }

    def run(*args):
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    picture = tmp_path / "picture.png"
    picture.write_bytes(flat((200, 120, 40)))
    out = tmp_path / "zoom.mp4"
    result = run(
        "effect", "zoom_out", "--image", str(picture), "-o", str(out), "--poll-interval", "0.2"
    )
    assert result.stdout.strip() == str(out) and len(frames(out)) == 5 * FPS

    with client(server) as kling:
        video_id = kling.effects.list()[0].videos[0].id
    longer = tmp_path / "longer.mp4"
    run("extend", video_id, "-o", str(longer), "--poll-interval", "0.2")
    assert len(frames(longer)) == 10 * FPS

    multi = tmp_path / "multi.mp4"
    run(
        "multi-image",
        "a portrait",
        "--image",
        str(picture),
        "-o",
        str(multi),
        "--poll-interval",
        "0.2",
    )
    assert len(frames(multi)) == 5 * FPS

    bad = CliRunner().invoke(main, ["effect", "fly_to_mars", "--image", str(picture)], env=env)
    assert bad.exit_code != 0 and "effect_scene" in bad.output
