"""client.images (sync and async) and `openkling image "prompt" -n 2` against a real server:
pictures made, waited for and downloaded, with and without a reference image."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from openkling.cli.main import main
from openkling.client import AsyncKling, InvalidRequestError, Kling, NotFoundError
from pictures import encode, gradient, resize


def kling(server) -> Kling:
    a = server.account
    return Kling(base_url=server.base_url, access_key=a.access_key, secret_key=a.secret_key)


def size_of(path) -> tuple[int, int]:
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        return picture.size


def test_sync_client_creates_waits_and_downloads_every_picture(live_server, tmp_path):
    reference = gradient(600, 600, seed=4)
    with kling(live_server) as client:
        task = client.images.create_and_wait(
            prompt="a paper crane", n=3, aspect_ratio="4:3", external_task_id="sdk-images"
        )
        assert [image.index for image in task.images] == [0, 1, 2]
        assert task.videos == []
        paths = client.images.download_all(task, tmp_path / "crane")
        assert [p.name for p in paths] == [f"{task.task_id}-{i}.png" for i in range(3)]
        assert {size_of(p) for p in paths} == {(1152, 864)}

        again = client.images.get(external_task_id="sdk-images")
        assert again.task_id == task.task_id
        assert client.images.list(page_size=1)[0].task_id == task.task_id
        one = client.images.download(task.task_id, tmp_path / "one.png", index=2)
        assert one.read_bytes() == paths[2].read_bytes()
        with pytest.raises(NotFoundError, match="none with index 3"):
            client.images.download(task, tmp_path, index=3)

        from_image = client.images.create_and_wait(
            prompt="the crane in gold",
            image=Image.fromarray(reference),
            image_fidelity=1.0,
            aspect_ratio="1:1",
        )
        picture = np.asarray(Image.open(client.images.download(from_image, tmp_path)))
        expected = resize(reference, 1024, 1024)
        assert np.abs(picture[150:600].astype(int) - expected[150:600]).mean() < 3
        # a video door does not know the image task
        with pytest.raises(NotFoundError):
            client.text2video.get(task.task_id)


def test_async_client_mirrors_the_sync_one(live_server, tmp_path):
    a = live_server.account

    async def run():
        async with AsyncKling(
            base_url=live_server.base_url, access_key=a.access_key, secret_key=a.secret_key
        ) as client:
            task = await client.images.create_and_wait(prompt="a kite", n=2, resolution="1k")
            paths = await client.images.download_all(task, tmp_path)
            with pytest.raises(InvalidRequestError):
                await client.images.download(await client.images.create(prompt="later"), tmp_path)
            return task, paths

    task, paths = asyncio.run(run())
    assert [image.index for image in task.images] == [0, 1]
    assert [size_of(p) for p in paths] == [(1280, 720), (1280, 720)]


def test_cli_image_saves_n_pictures(live_server, tmp_path, monkeypatch):
    a = live_server.account
    monkeypatch.setenv("KLING_ACCESS_KEY", a.access_key)
    monkeypatch.setenv("KLING_SECRET_KEY", a.secret_key)
    reference = tmp_path / "ref.png"
    reference.write_bytes(encode(gradient(500, 500, seed=2)))
    runner = CliRunner()
    args = ["image", "a lantern at night", "-n", "2", "--aspect-ratio", "9:16", "-o"]
    result = runner.invoke(main, [*args, str(tmp_path / "out"), "--base-url", live_server.base_url])
    assert result.exit_code == 0, result.output
    paths = result.stdout.strip().splitlines()
    assert len(paths) == 2 and all(size_of(p) == (720, 1280) for p in paths)
    assert "2 picture(s)" in result.stderr and "8 credits" in result.stderr

    result = runner.invoke(
        main,
        ["image", "the same lantern", "--image", str(reference), "--image-fidelity", "0.9"]
        + ["-o", str(tmp_path / "ref"), "--base-url", live_server.base_url],
    )
    assert result.exit_code == 0, result.output
    assert "8 credits" in result.stderr  # one picture from a reference

    refused = runner.invoke(main, ["image", "x", "-n", "12", "--base-url", live_server.base_url])
    assert refused.exit_code == 2 and "1<=x<=9" in refused.output
