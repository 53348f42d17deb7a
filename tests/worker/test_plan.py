"""plan_render is pure: sizes, shots, seeds and camera phrases from a request and an engine."""

from __future__ import annotations

from dataclasses import replace

from openkling.domain.request import (
    CameraConfig,
    CameraControl,
    GenerationRequest,
    ImageInput,
    Shot,
)
from openkling.engines.base import Capabilities
from openkling.worker.plan import SEED_STRIDE, nearest_ratio, plan_render

from .fakes import ScriptedEngine

ZOOM = CameraControl(type="simple", config=CameraConfig(zoom=5))


def test_one_shot_keeps_the_engines_frame_rule():
    plan = plan_render(GenerationRequest(prompt="p", duration=5), ScriptedEngine(), seed=7)
    assert (plan.width, plan.height, plan.fps, plan.num_frames) == (64, 36, 4.0, 21)
    assert [(s.prompt, s.num_frames, s.start_frame, s.seed) for s in plan.shots] == [
        ("p", 21, 0, 7)
    ]


def test_shots_are_cut_to_exact_lengths_with_derived_seeds():
    request = GenerationRequest(
        prompt="", duration=3, shots=[Shot(prompt="a", duration=1), Shot(prompt="b", duration=2)]
    )
    plan = plan_render(request, ScriptedEngine(), seed=2**31 - 1)
    a, b = plan.shots
    assert (a.num_frames, a.render_frames, a.start_frame) == (4, 5, 0)
    assert (b.num_frames, b.render_frames, b.start_frame) == (8, 9, 4)
    assert a.seed == 2**31 - 1 and b.seed == (2**31 - 1 + SEED_STRIDE) % 2**31
    assert plan.num_frames == 12 and plan.seconds == 3.0
    assert plan.audio_prompt == "a b"


def test_exact_size_wins_over_the_engines_size():
    plan = plan_render(GenerationRequest(prompt="p", size=(100, 60)), ScriptedEngine(), seed=1)
    assert (plan.width, plan.height) == (100, 60)


def test_no_aspect_ratio_takes_the_images_nearest():
    assert nearest_ratio(1080, 1920) == "9:16"
    assert nearest_ratio(1000, 1100) == "1:1"
    assert nearest_ratio(3000, 1250) == "16:9"
    portrait = ImageInput(key="inputs/x.png", width=600, height=1000)
    request = GenerationRequest(prompt="", aspect_ratio=None, image=portrait)
    plan = plan_render(request, ScriptedEngine(), seed=1)
    assert (plan.width, plan.height) == (36, 64)


def test_camera_phrase_only_for_engines_that_want_it():
    request = GenerationRequest(prompt="a harbour", camera_control=ZOOM)
    plain = ScriptedEngine()
    assert plan_render(request, plain, seed=1).shots[0].prompt == "a harbour"
    wants = ScriptedEngine()
    wants.capabilities = Capabilities(camera_phrase=True)
    phrased = plan_render(request, wants, seed=1)
    assert phrased.shots[0].prompt.startswith("a harbour, ") and "zoom" in phrased.shots[0].prompt
    assert phrased.canvas_w > phrased.width  # overscanned for the move


def test_an_engine_with_its_own_camera_gets_no_path():
    engine = ScriptedEngine()
    engine.capabilities = replace(Capabilities(), own_camera=True)
    plan = plan_render(GenerationRequest(prompt="p", camera_control=ZOOM), engine, seed=1)
    assert plan.camera.is_static and (plan.canvas_w, plan.canvas_h) == (64, 36)
