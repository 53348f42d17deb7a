"""MP4 writing and probing, checked by reading the files back with PyAV and the raw bytes."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from openkling.engines.base import RenderRequest
from openkling.engines.procedural_audio import ProceduralAudio
from openkling.engines.synthetic import SyntheticEngine
from openkling.media.encode import encode_mp4, probe

W, H, FPS = 192, 108, 24.0


def synthetic(num_frames: int, width: int = W, height: int = H):
    req = RenderRequest(
        prompt="a paper boat on a rainy street",
        negative_prompt="",
        width=width,
        height=height,
        num_frames=num_frames,
        fps=FPS,
        cfg_scale=0.5,
        seed=1,
    )
    return SyntheticEngine().render(req)


def numbered(num_frames: int):
    """Frames whose grey level tells their index (10, 20, 30, ...)."""
    for i in range(num_frames):
        yield np.full((H, W, 3), 10 + 10 * (i % 24), np.uint8)


def top_level_atoms(path: Path) -> list[str]:
    data = path.read_bytes()
    atoms, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        atoms.append(kind.decode("latin-1"))
        pos += size
    return atoms


def decoded_audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1)


def test_video_only(tmp_path):
    out = tmp_path / "clip.mp4"
    written = encode_mp4(out, synthetic(30), fps=FPS, width=W, height=H, preset="ultrafast")
    assert written == 30
    info = probe(out)
    assert (info.width, info.height, info.num_frames) == (W, H, 30)
    assert info.fps == pytest.approx(FPS)
    assert abs(info.duration - 30 / FPS) <= 1 / FPS
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p"
    assert not info.has_audio and info.audio_duration == 0.0
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 30


@pytest.mark.parametrize("num_frames", [121, 240])
def test_with_audio_of_the_video_length(tmp_path, num_frames):
    out = tmp_path / "clip.mp4"
    seconds = num_frames / FPS
    track = ProceduralAudio().render("a drum band marching", seconds, seed=2)
    encode_mp4(
        out, synthetic(num_frames), fps=FPS, width=W, height=H, audio=track, preset="ultrafast"
    )
    info = probe(out)
    assert info.num_frames == num_frames
    assert info.has_audio
    assert (info.audio_sample_rate, info.audio_channels) == (48000, 2)
    assert abs(info.audio_duration - info.duration) <= 0.05
    samples = decoded_audio(out)
    assert samples.shape[0] == 2
    assert abs(samples.shape[1] / 48000 - seconds) <= 0.05
    assert np.abs(samples).max() > 0.2  # the track is really there


def test_long_audio_is_cut_and_short_audio_padded_with_silence(tmp_path):
    rng = np.random.default_rng(0)
    long_track = rng.uniform(-0.5, 0.5, (2, 48000 * 4)).astype(np.float32)
    cut = tmp_path / "cut.mp4"
    encode_mp4(cut, numbered(24), fps=FPS, width=W, height=H, audio=long_track)
    assert abs(probe(cut).audio_duration - 1.0) <= 0.05

    short_track = rng.uniform(-0.5, 0.5, (2, 24000)).astype(np.float32)  # half the video
    padded = tmp_path / "padded.mp4"
    encode_mp4(padded, numbered(48), fps=FPS, width=W, height=H, audio=short_track)
    info = probe(padded)
    assert abs(info.audio_duration - 2.0) <= 0.05
    samples = decoded_audio(padded)
    assert np.sqrt((samples[:, 6000:18000] ** 2).mean()) > 0.1
    assert np.abs(samples[:, 36000:90000]).max() < 0.01  # well past the track's end: silence


def test_faststart_puts_moov_before_mdat(tmp_path):
    out = tmp_path / "clip.mp4"
    track = np.zeros((2, 48000), np.float32)
    encode_mp4(out, numbered(24), fps=FPS, width=W, height=H, audio=track)
    atoms = top_level_atoms(out)
    assert "moov" in atoms and "mdat" in atoms
    assert atoms.index("moov") < atoms.index("mdat")


def test_colours_survive_the_round_trip(tmp_path):
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:, : W // 3] = (220, 40, 30)
    frame[:, W // 3 : 2 * W // 3] = (30, 200, 60)
    frame[:, 2 * W // 3 :] = (40, 60, 210)
    out = tmp_path / "colours.mp4"
    encode_mp4(out, [frame] * 3, fps=FPS, width=W, height=H, crf=12)
    with av.open(str(out)) as container:
        decoded = next(container.decode(video=0)).to_ndarray(format="rgb24")
    for x0, x1 in ((8, W // 3 - 8), (W // 3 + 8, 2 * W // 3 - 8), (2 * W // 3 + 8, W - 8)):
        want = frame[H // 2, x0].astype(int)
        got = decoded[8:-8, x0:x1].reshape(-1, 3).mean(axis=0)
        assert np.abs(got - want).max() < 8, (want, got)


def test_cover_is_the_frame_at_a_third(tmp_path):
    out, cover = tmp_path / "clip.mp4", tmp_path / "clip.jpg"
    encode_mp4(out, numbered(24), fps=FPS, width=W, height=H, cover_path=cover, expected_frames=24)
    image = Image.open(cover)
    assert image.format == "JPEG" and image.size == (W, H)
    assert abs(np.asarray(image).mean() - (10 + 10 * 8)) < 3  # frame 8 of 24


def test_cover_without_a_frame_count_is_near_a_third(tmp_path):
    out, cover = tmp_path / "clip.mp4", tmp_path / "clip.jpg"
    encode_mp4(out, numbered(60), fps=FPS, width=W, height=H, cover_path=cover)
    level = np.asarray(Image.open(cover)).mean()
    index = round((level - 10) / 10)
    assert index == 16  # the largest power of two at or below 60 / 3


def test_wrong_frame_size_is_an_error_and_leaves_nothing(tmp_path):
    out = tmp_path / "clip.mp4"

    def frames():
        yield from numbered(5)
        yield np.zeros((H, W + 2, 3), np.uint8)

    with pytest.raises(ValueError, match="expected"):
        encode_mp4(out, frames(), fps=FPS, width=W, height=H, cover_path=tmp_path / "c.jpg")
    assert list(tmp_path.iterdir()) == []


def test_no_frames_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        encode_mp4(tmp_path / "clip.mp4", [], fps=FPS, width=W, height=H)
    assert list(tmp_path.iterdir()) == []


def test_the_file_appears_only_when_complete(tmp_path):
    out = tmp_path / "clip.mp4"
    seen = []

    def frames():
        for frame in numbered(24):
            seen.append(out.exists())
            yield frame

    encode_mp4(out, frames(), fps=FPS, width=W, height=H)
    assert seen and not any(seen)
    assert out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_odd_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="even"):
        encode_mp4(tmp_path / "clip.mp4", numbered(2), fps=FPS, width=W + 1, height=H)


def test_fractional_frame_rate(tmp_path):
    out = tmp_path / "ntsc.mp4"
    encode_mp4(out, numbered(30), fps=30000 / 1001, width=W, height=H)
    info = probe(out)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert abs(info.duration - 30 / (30000 / 1001)) <= 1 / 29.97


@pytest.mark.parametrize(("preset", "subme"), [("ultrafast", b"subme=0"), ("veryfast", b"subme=2")])
def test_preset_and_crf_reach_the_encoder(tmp_path, preset, subme):
    out = tmp_path / "clip.mp4"
    encode_mp4(out, numbered(3), fps=FPS, width=W, height=H, preset=preset, crf=27)
    settings = out.read_bytes()  # x264 writes its settings into the stream
    assert subme in settings and b"crf=27.0" in settings
