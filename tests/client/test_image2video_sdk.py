"""client.image2video (sync and async) and `openkling generate --image` against a real server:
a path, bytes, a PIL image or a URL goes in, and the video starts on that picture."""

from __future__ import annotations

import asyncio
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from openkling.cli.main import main
from openkling.client import AsyncKling, InvalidRequestError, Kling
from pictures import decode_frames, encode, gradient, psnr, resize


def kling(server) -> Kling:
    a = server.account
    return Kling(base_url=server.base_url, access_key=a.access_key, secret_key=a.secret_key)


def first_frame_matches(path, picture: np.ndarray) -> tuple[int, int]:
    frames = decode_frames(path.read_bytes())
    h, w = frames[0].shape[:2]
    assert psnr(frames[0], resize(picture, w, h)) >= 25
    return w, h


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Pictures on a loopback web server (admitted by OPENKLING_URL_ALLOW in the tests)."""
    root = tmp_path_factory.mktemp("site")
    (root / "square.png").write_bytes(encode(gradient(400, 400, seed=9)))
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_sync_client_takes_a_path_bytes_a_pil_image_or_a_url(live_server, tmp_path, site):
    landscape, portrait = gradient(640, 360, seed=1), gradient(360, 640, seed=2)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(landscape).save(photo, quality=95)
    with kling(live_server) as client:
        from_path = client.image2video.create(image=photo, prompt="a calm lake")
        from_bytes = client.image2video.create(image=encode(portrait), external_task_id="sdk-i2v")
        from_pil = client.image2video.create(image=Image.fromarray(portrait).convert("RGBA"))
        from_url = client.image2video.create(image=f"{site}/square.png")

        task = client.image2video.wait(from_path, timeout=120)
        assert first_frame_matches(
            client.image2video.download(task, tmp_path / "a.mp4"), landscape
        ) == (256, 144)
        task = client.image2video.wait(from_bytes, timeout=120)
        assert first_frame_matches(
            client.image2video.download(task, tmp_path / "b.mp4"), portrait
        ) == (144, 256)
        task = client.image2video.wait(from_pil, timeout=120)
        first_frame_matches(client.image2video.download(task, tmp_path / "c.mp4"), portrait)
        task = client.image2video.wait(from_url, timeout=120)
        square = gradient(400, 400, seed=9)
        assert first_frame_matches(
            client.image2video.download(task, tmp_path / "d.mp4"), square
        ) == (144, 144)

        assert client.image2video.get(external_task_id="sdk-i2v").task_id == from_bytes.task_id
        listed = {t.task_id for t in client.image2video.list(page_size=50)}
        assert {from_path.task_id, from_bytes.task_id, from_url.task_id} <= listed
        assert not listed & {t.task_id for t in client.text2video.list(page_size=50)}

        with pytest.raises(InvalidRequestError, match="neither an existing file"):
            client.image2video.create(image=str(tmp_path / "missing.png"))


def test_async_client_mirrors_it_with_an_end_frame(live_server, tmp_path):
    image, tail = gradient(640, 360, seed=3), 255 - gradient(640, 360, seed=4)

    async def go():
        a = live_server.account
        async with AsyncKling(
            base_url=live_server.base_url, access_key=a.access_key, secret_key=a.secret_key
        ) as client:
            task = await client.image2video.create_and_wait(
                image=Image.fromarray(image), image_tail=encode(tail), timeout=120
            )
            return await client.image2video.download(task, tmp_path / "tail.mp4")

    frames = decode_frames(asyncio.run(go()).read_bytes())
    h, w = frames[0].shape[:2]
    assert psnr(frames[0], resize(image, w, h)) >= 25
    assert psnr(frames[-1], resize(tail, w, h)) >= 25


def test_cli_generate_with_image_and_tail(live_server, tmp_path):
    image, tail = gradient(360, 640, seed=5), 255 - gradient(360, 640, seed=6)
    (tmp_path / "photo.jpg").write_bytes(encode(image, "JPEG", quality=95))
    (tmp_path / "end.png").write_bytes(encode(tail))
    env = {
        "KLING_BASE_URL": live_server.base_url,
        "KLING_ACCESS_KEY": live_server.account.access_key,
        "KLING_SECRET_KEY": live_server.account.secret_key,
        "KLING_API_KEY": None,
    }
    run = partial(CliRunner().invoke, main, env=env, catch_exceptions=False)
    out = tmp_path / "out.mp4"
    result = run(
        [
            "generate",
            "--image",
            str(tmp_path / "photo.jpg"),
            "--image-tail",
            str(tmp_path / "end.png"),
            "-o",
            str(out),
            "--external-task-id",
            "cli-i2v",
        ]
    )
    assert result.exit_code == 0, result.output
    frames = decode_frames(out.read_bytes())
    h, w = frames[0].shape[:2]
    assert h > w  # a portrait picture, a portrait video
    assert psnr(frames[0], resize(image, w, h)) >= 25
    assert psnr(frames[-1], resize(tail, w, h)) >= 25

    got = run(["tasks", "get", "--image2video", "--external", "cli-i2v"])
    assert got.exit_code == 0 and json.loads(got.stdout)["task_status"] == "succeed"
    assert run(["tasks", "get", "--external", "cli-i2v"]).exit_code != 0  # not a text2video task

    bad = run(["generate", "--image", str(tmp_path / "nope.png")])
    assert bad.exit_code == 2 and "no such file" in bad.output
    both = run(["generate", "--image", str(tmp_path / "photo.jpg"), "--aspect-ratio", "1:1"])
    assert both.exit_code == 2 and "aspect" in both.output
