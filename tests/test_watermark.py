"""Watermarked copies, measured frame by frame against the original with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from openkling.engines.base import RenderRequest
from openkling.engines.procedural_audio import ProceduralAudio
from openkling.engines.synthetic import SyntheticEngine
from openkling.media.encode import encode_mp4, probe
from openkling.worker.watermark import CORNERS, Region, make_mark, watermark_video

W, H, FPS, N = 256, 144, 24.0, 36


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    req = RenderRequest("a red fox in a snowy forest", "", W, H, N, FPS, 0.5, seed=7)
    path = tmp_path_factory.mktemp("wm") / "original.mp4"
    audio = ProceduralAudio().render("a red fox in a snowy forest", N / FPS, 7)
    encode_mp4(path, SyntheticEngine().render(req), fps=FPS, width=W, height=H, audio=audio)
    return path


def region_mask(region: Region) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[region.y : region.y + region.h, region.x : region.x + region.w] = True
    return mask


@pytest.mark.parametrize("corner", CORNERS)
def test_frames_differ_only_inside_the_mark(original, tmp_path, corner):
    marked = tmp_path / "marked.mp4"
    region = watermark_video(original, marked, lambda w, h: make_mark(w, h, corner=corner))
    inside = region_mask(region)
    # the mark sits in the asked corner, inside the frame
    assert region.w > 10 and region.h > 5
    assert (region.x < W / 2) == corner.endswith("left")
    assert (region.y < H / 2) == corner.startswith("top")
    assert region.x >= 0 and region.y >= 0 and region.x + region.w <= W
    assert region.y + region.h <= H

    a, b = frames_of(original), frames_of(marked)
    assert len(a) == len(b) == N
    for fa, fb in zip(a, b, strict=True):
        diff = np.abs(fa - fb).max(axis=2)
        # the mark is plainly visible inside its region ...
        assert diff[inside].mean() > 25
        # ... and everything else is the original up to re-encoding noise
        assert diff[~inside].mean() < 2.0
        assert np.percentile(diff[~inside], 99) < 10


def test_audio_is_copied_not_reencoded(original, tmp_path):
    marked = tmp_path / "marked.mp4"
    watermark_video(original, marked, lambda w, h: make_mark(w, h))
    a, b = probe(original), probe(marked)
    assert b.has_audio and b.num_frames == a.num_frames
    assert abs(b.duration - a.duration) < 0.01
    assert audio_packets(marked) == audio_packets(original)


def test_an_image_mark_replaces_the_text(original, tmp_path):
    logo = tmp_path / "logo.png"
    img = np.zeros((40, 80, 4), np.uint8)
    img[..., 1] = 255  # opaque green
    img[..., 3] = 255
    Image.fromarray(img, "RGBA").save(logo)
    marked = tmp_path / "marked.mp4"
    region = watermark_video(
        original, marked, lambda w, h: make_mark(w, h, image=logo, corner="top-left")
    )
    assert region.w <= W / 5 + 1 and abs(region.w / region.h - 2) < 0.2
    frame = frames_of(marked)[5]
    patch = frame[region.y + 2 : region.y + region.h - 2, region.x + 2 : region.x + region.w - 2]
    assert patch[..., 1].mean() > 200 and patch[..., 0].mean() < 60  # the green logo


def test_a_long_text_still_fits_the_frame():
    mark = make_mark(64, 36, text="a very long watermark text that cannot fit")
    r = mark.region
    assert r.x >= 0 and r.y >= 0 and r.x + r.w <= 64 and r.y + r.h <= 36


def test_an_unknown_corner_is_refused():
    with pytest.raises(ValueError, match="corner"):
        make_mark(W, H, corner="middle")  # type: ignore[arg-type]
