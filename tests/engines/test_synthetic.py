"""The synthetic engine: sizes, frame plans, determinism, prompt-shaped content, progress."""

from __future__ import annotations

import types

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from openkling.engines.base import RenderRequest, VideoEngine
from openkling.engines.synthetic import SyntheticEngine, font_size
from openkling.errors import GenerationCancelled


def request(prompt: str = "a red fox running through fresh snow", **kw) -> RenderRequest:
    base = dict(
        prompt=prompt,
        negative_prompt="",
        width=320,
        height=180,
        num_frames=12,
        fps=24.0,
        cfg_scale=0.5,
        seed=7,
    )
    base.update(kw)
    return RenderRequest(**base)


@pytest.fixture
def engine() -> SyntheticEngine:
    return SyntheticEngine()


def test_it_is_a_video_engine(engine):
    def check(e: VideoEngine) -> str:
        return e.name

    assert check(engine) == "synthetic"


@pytest.mark.parametrize(
    ("mode", "aspect", "size"),
    [
        ("std", "16:9", (1280, 720)),
        ("std", "9:16", (720, 1280)),
        ("std", "1:1", (720, 720)),
        ("pro", "16:9", (1920, 1080)),
        ("pro", "9:16", (1080, 1920)),
        ("pro", "1:1", (1080, 1080)),
    ],
)
def test_output_size_follows_mode_and_aspect(engine, mode, aspect, size):
    assert engine.output_size(mode, aspect) == size


def test_output_size_from_settings_is_even():
    engine = SyntheticEngine(std_short_side=480, pro_short_side=541)
    assert engine.output_size("std", "16:9") == (854, 480)
    w, h = engine.output_size("pro", "9:16")
    assert w % 2 == 0 and h % 2 == 0 and w == 542


def test_output_size_rejects_unknown_values(engine):
    with pytest.raises(ValueError, match="mode"):
        engine.output_size("ultra", "16:9")
    with pytest.raises(ValueError, match="aspect_ratio"):
        engine.output_size("std", "4:3")


def test_frame_plan_covers_the_duration(engine):
    assert engine.frame_plan(5) == (120, 24.0)
    assert engine.frame_plan(10) == (240, 24.0)
    assert engine.frame_plan(5.01) == (121, 24.0)
    assert SyntheticEngine(fps=16).frame_plan(5) == (80, 16.0)


def test_canvas_size_rounds_up_to_even(engine):
    assert engine.canvas_size(1280, 720) == (1280, 720)
    assert engine.canvas_size(1473, 829) == (1474, 830)


def test_render_is_lazy_and_reports_each_frame(engine):
    steps: list[tuple[int, int]] = []
    frames = engine.render(request(), on_step=lambda done, total: steps.append((done, total)))
    assert isinstance(frames, types.GeneratorType)
    assert steps == []
    first = next(frames)
    assert steps == [(1, 12)]
    assert first.shape == (180, 320, 3) and first.dtype == np.uint8
    rest = list(frames)
    assert len(rest) == 11
    assert steps == [(i, 12) for i in range(1, 13)]


def test_render_is_deterministic(engine):
    a = list(engine.render(request()))
    b = list(engine.render(request()))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_seed_and_negative_prompt_change_the_frames(engine):
    base = next(engine.render(request()))
    other_seed = next(engine.render(request(seed=8)))
    other_negative = next(engine.render(request(negative_prompt="blurry")))
    assert not np.array_equal(base, other_seed)
    assert not np.array_equal(base, other_negative)


def test_different_prompts_look_clearly_different(engine):
    fox = np.stack(list(engine.render(request("a red fox running through fresh snow"))))
    sea = np.stack(list(engine.render(request("a calm blue ocean under a night sky"))))
    colour_gap = np.abs(fox.mean(axis=(0, 1, 2)) - sea.mean(axis=(0, 1, 2))).max()
    assert colour_gap > 20
    # shapes move, and differently: the moving pixels are not in the same places
    fox_motion = np.abs(np.diff(fox.astype(np.int16), axis=0)).max(axis=(0, 3)) > 30
    sea_motion = np.abs(np.diff(sea.astype(np.int16), axis=0)).max(axis=(0, 3)) > 30
    assert fox_motion.sum() > 200 and sea_motion.sum() > 200
    overlap = (fox_motion & sea_motion).sum() / max(fox_motion.sum(), sea_motion.sum())
    assert overlap < 0.6


def _word_score(frame: np.ndarray, word: str, size: int) -> float:
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(word)
    pad = 3
    image = Image.new("L", (right + 2 * pad, bottom + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad, pad), word, font=font, fill=255)
    template = np.asarray(image)
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return float(cv2.matchTemplate(gray, template, cv2.TM_CCOEFF_NORMED).max())


def test_prompt_words_are_legible(engine):
    prompt = "lighthouse beside stormy harbour"
    frame = next(engine.render(request(prompt, width=640, height=360)))
    size = font_size(360)
    for word in prompt.split():
        assert _word_score(frame, word, size) > 0.8, word
    assert _word_score(frame, "volcano", size) < 0.6


def test_long_prompts_are_wrapped_inside_the_frame(engine):
    prompt = " ".join(["word"] * 400)
    frame = next(engine.render(request(prompt, width=640, height=360)))
    assert frame.shape == (360, 640, 3)


def test_backdrop_never_goes_near_black(engine):
    for prompt in ("a dark night in deep space", "snow", "neon city"):
        frames = list(engine.render(request(prompt, num_frames=4)))
        assert min(int(f.min()) for f in frames) > 10


def test_cancel_stops_at_the_next_frame(engine):
    made = []
    frames = engine.render(
        request(num_frames=50),
        on_step=lambda done, total: made.append(done),
        should_stop=lambda: len(made) >= 3,
    )
    with pytest.raises(GenerationCancelled):
        for _ in frames:
            pass
    assert made == [1, 2, 3]


def test_render_rejects_tiny_canvas(engine):
    with pytest.raises(ValueError, match="16x16"):
        engine.render(request(width=8, height=8))
