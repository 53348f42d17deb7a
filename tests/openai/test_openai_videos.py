"""Videos made end to end through the official `openai` package: create_and_poll, downloads
probed with PyAV, remix, delete, and an uploaded input_reference as the first frame."""

from __future__ import annotations

import io
import math
from pathlib import Path

import av
import numpy as np
import openai
import pytest
from PIL import Image, ImageDraw

from support.harness import AppServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks Sora so


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # FAST_ENV shrinks Kling's sizes; an OpenAI size is exact regardless
    server = AppServer(
        socket=True,
        data_dir=tmp_path_factory.mktemp("openai-videos"),
        env={"OPENKLING_OPENAI_POLL_AFTER_MS": "200"},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(server) -> openai.OpenAI:
    """The official client, unchanged but for where it points and the key it sends."""
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=server.secret_key)


@pytest.fixture(scope="module")
def made(client):
    video = client.videos.create_and_poll(
        prompt="a paper boat on a calm blue river", size="1280x720", seconds="4"
    )
    assert video.status == "completed", video.error
    return video


def frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def probe(data: bytes) -> tuple[int, int, float, str]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        seconds = float(stream.duration * stream.time_base)
        return stream.codec_context.width, stream.codec_context.height, seconds, stream.name


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def media_files(server: AppServer) -> list[Path]:
    return sorted(p for p in (server.data_dir / "media").rglob("*") if p.is_file())


def test_create_and_poll_ends_completed(made, client):
    assert made.id.startswith("video_") and made.object == "video"
    assert (made.model, made.size, made.seconds, made.progress) == ("sora-2", "1280x720", "4", 100)
    assert made.completed_at >= made.created_at and made.error is None
    assert client.videos.retrieve(made.id).status == "completed"


def test_download_content_is_the_exact_mp4(made, client):
    raw = client.videos.with_raw_response.download_content(made.id)
    assert raw.headers["content-type"] == "video/mp4"
    width, height, seconds, codec = probe(raw.content)
    assert (width, height, codec) == (1280, 720, "h264")
    assert abs(seconds - 4.0) <= 0.1
    assert client.videos.download_content(made.id, variant="video").content == raw.content


def test_thumbnail_and_spritesheet(made, client):
    raw = client.videos.with_raw_response.download_content(made.id, variant="thumbnail")
    assert raw.headers["content-type"] == "image/jpeg"
    thumb = Image.open(io.BytesIO(raw.content))
    assert (thumb.format, thumb.size) == ("JPEG", (1280, 720))

    raw = client.videos.with_raw_response.download_content(made.id, variant="spritesheet")
    assert raw.headers["content-type"] == "image/jpeg"
    sheet = np.asarray(Image.open(io.BytesIO(raw.content)).convert("RGB"))
    assert sheet.shape == (4 * 144, 4 * 256, 3)  # 16 tiles of 256x144, four to a row
    first = np.asarray(Image.fromarray(frames(client.videos.download_content(made.id).content)[0]))
    tile = np.asarray(Image.fromarray(first).resize((256, 144), Image.Resampling.BILINEAR))
    assert psnr(sheet[:144, :256], tile) > 25  # the sheet starts at the first frame
    again = client.videos.download_content(made.id, variant="spritesheet").content
    assert again == raw.content  # kept after the first request


def test_remix_keeps_settings_and_seed(made, client):
    remix = client.videos.remix(made.id, prompt=made.prompt)
    assert remix.remixed_from_video_id == made.id and remix.id != made.id
    assert (remix.size, remix.seconds, remix.model) == (made.size, made.seconds, made.model)
    done = client.videos.poll(remix.id)
    assert done.status == "completed" and done.remixed_from_video_id == made.id
    # same settings, same seed, same prompt: the same picture
    ours = frames(client.videos.download_content(done.id).content)
    source = frames(client.videos.download_content(made.id).content)
    assert len(ours) == len(source)
    assert psnr(ours[len(ours) // 2], source[len(source) // 2]) > 40

    other = client.videos.remix(made.id, prompt="a paper boat on a stormy red sea")
    assert other.prompt == "a paper boat on a stormy red sea"
    other = client.videos.poll(other.id)
    changed = frames(client.videos.download_content(other.id).content)
    assert psnr(changed[len(changed) // 2], source[len(source) // 2]) < 30


def test_delete_removes_the_video_and_its_files(server, client):
    video = client.videos.create_and_poll(prompt="a short-lived kite", seconds="4")
    assert video.status == "completed"
    client.videos.download_content(video.id, variant="spritesheet")  # made and kept
    task_id = video.id.removeprefix("video_")
    ours = [p for p in media_files(server) if task_id in p.name]
    assert {p.suffix for p in ours} == {".mp4", ".jpg"} and len(ours) == 3

    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    assert [p for p in media_files(server) if task_id in p.name] == []
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.delete(video.id)
    assert video.id not in [v.id for v in client.videos.list()]


def reference_picture(width: int, height: int) -> Image.Image:
    """Broad shapes and gradients: detail a video codec keeps."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    pixels = np.stack(
        [
            np.broadcast_to(x, (height, width)),
            np.broadcast_to(y, (height, width)),
            255 - (x + y) / 2,
        ],
        axis=-1,
    ).astype(np.uint8)
    picture = Image.fromarray(pixels)
    draw = ImageDraw.Draw(picture)
    draw.ellipse((width * 0.1, height * 0.2, width * 0.4, height * 0.8), fill=(250, 240, 30))
    draw.rectangle((width * 0.55, height * 0.15, width * 0.9, height * 0.5), fill=(20, 20, 120))
    draw.polygon(
        [(width * 0.6, height * 0.9), (width * 0.75, height * 0.6), (width * 0.9, height * 0.9)],
        fill=(240, 30, 60),
    )
    return picture


def test_uploaded_input_reference_is_the_first_frame(server, client):
    picture = reference_picture(1280, 720)
    upload = io.BytesIO()
    picture.save(upload, format="PNG")
    video = client.videos.create_and_poll(
        prompt="the shapes drift",
        size="1280x720",
        seconds="4",
        input_reference=("reference.png", upload.getvalue(), "image/png"),
    )
    assert video.status == "completed", video.error
    first = frames(client.videos.download_content(video.id).content)[0]
    assert first.shape == (720, 1280, 3)
    assert psnr(first, np.asarray(picture)) >= 22

    stored = [p for p in media_files(server) if "inputs" in p.parts]
    assert len(stored) == 1, "the reference is stored with the task"

    # a remix starts from the same image, kept in its own copy
    remix = client.videos.poll(client.videos.remix(video.id, prompt="the shapes drift").id)
    assert remix.status == "completed", remix.error
    copies = [p for p in media_files(server) if "inputs" in p.parts]
    assert len(copies) == 2 and copies[0].read_bytes() == copies[1].read_bytes()

    client.videos.delete(video.id)
    assert not set(stored) & set(media_files(server))  # the source's copy goes with it
    first = frames(client.videos.download_content(remix.id).content)[0]
    assert psnr(first, np.asarray(picture)) >= 22
    client.videos.delete(remix.id)
    assert [p for p in media_files(server) if "inputs" in p.parts] == []


def test_native_resolution_when_exact_size_is_off(app_factory):
    """The size's aspect at the engine's own resolution (here FAST_ENV's 144 px short side);
    the object reports what was made."""
    server = app_factory(
        env={"OPENKLING_OPENAI_EXACT_SIZE": "false", "OPENKLING_OPENAI_POLL_AFTER_MS": "200"},
        socket=True,
    )
    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key=server.secret_key)
    queued = client.videos.create(prompt="a tall tower", size="720x1280", seconds="4")
    assert queued.size == "720x1280"
    video = client.videos.poll(queued.id)
    assert video.status == "completed" and video.size == "144x256"
    width, height, seconds, _ = probe(client.videos.download_content(video.id).content)
    assert (width, height) == (144, 256) and abs(seconds - 4.0) <= 0.1
