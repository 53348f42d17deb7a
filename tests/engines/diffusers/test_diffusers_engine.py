"""Real generation through tiny random pipelines saved to disk and loaded via the profile."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from openkling.engines.base import RenderRequest  # noqa: E402
from openkling.engines.diffusers import DiffusersEngine  # noqa: E402
from openkling.engines.profiles import ProfileError  # noqa: E402
from openkling.engines.registry import build_registry  # noqa: E402
from openkling.engines.stable_audio import StableAudioEngine  # noqa: E402
from openkling.errors import EngineError, GenerationCancelled  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:Should have:UserWarning"),  # torchsde, in Stable Audio
    pytest.mark.filterwarnings("ignore:.*weight_norm:FutureWarning"),
]


def profile(weights, family="wan", extra="", model="kling-v1", steps=2) -> str:
    return (
        f'[models."{model}"]\nengine = "diffusers"\nfamily = "{family}"\nweights = "{weights}"\n'
        f'device = "cpu"\ndtype = "float32"\nsteps = {steps}\nfps = 4\n{extra}'
        f'[models."{model}".resolution]\nstd = {{"16:9" = [48, 32], "1:1" = [32, 32]}}\n'
    )


def request(
    engine, seed=1, prompt="a red fox runs on the beach", frames=None, **kw
) -> RenderRequest:
    width, height = engine.output_size("std", "16:9")
    num_frames, fps = engine.frame_plan(1)
    return RenderRequest(
        prompt=prompt,
        negative_prompt=kw.pop("negative_prompt", "blur"),
        width=width,
        height=height,
        num_frames=frames or num_frames,
        fps=fps,
        cfg_scale=kw.pop("cfg_scale", 0.5),
        seed=seed,
        **kw,
    )


@pytest.fixture(scope="module")
def wan(tiny_weights, tmp_path_factory):
    """kling-v1 -> tiny Wan 2.1 through a real profile file and build_registry."""
    from openkling.config import Settings

    path = tmp_path_factory.mktemp("wan-profile") / "profiles.toml"
    path.write_text(profile(tiny_weights("wan"), extra="guidance = [2.0, 6.0]\n"))
    registry = build_registry(Settings(profiles_file=path))
    return registry.video("kling-v1")


def test_profile_serves_kling_v1_with_real_frames(wan):
    assert isinstance(wan, DiffusersEngine) and wan.name == "diffusers-wan"
    assert wan.output_size("std", "16:9") == (48, 32)
    assert wan.frame_plan(1) == (5, 4.0)  # 4 frames asked, Wan counts 4k+1
    assert wan.frame_plan(5) == (21, 4.0)
    frames = list(wan.render(request(wan)))
    assert len(frames) == 5
    assert all(f.shape == (32, 48, 3) and f.dtype == np.uint8 for f in frames)
    assert np.std(np.stack(frames)) > 1  # decoded noise, not a constant canvas


def test_overscanned_canvas_renders_at_its_own_size(wan):
    width, height = wan.canvas_size(int(48 * 1.3), int(32 * 1.3))
    assert (width, height) == (64, 48)
    req = request(wan)
    frames = wan.render(RenderRequest(**{**req.__dict__, "width": width, "height": height}))
    assert frames[0].shape == (48, 64, 3)


def test_same_seed_same_frames_other_seed_other_frames(wan):
    first = np.stack(wan.render(request(wan, seed=7)))
    again = np.stack(wan.render(request(wan, seed=7)))
    other = np.stack(wan.render(request(wan, seed=8)))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_prompt_negative_prompt_and_cfg_scale_reach_the_pipeline(wan):
    base = np.stack(wan.render(request(wan)))
    assert not np.array_equal(base, np.stack(wan.render(request(wan, prompt="a blue car"))))
    assert not np.array_equal(base, np.stack(wan.render(request(wan, negative_prompt="dog"))))
    wan.render(request(wan, cfg_scale=0.25))
    pipe = wan.pool.get(wan.spec)
    assert pipe.guidance_scale == pytest.approx(3.0)  # 2 + 0.25 * (6 - 2)


def test_progress_per_step_and_cancel_at_the_next_step(wan):
    steps = []
    wan.render(request(wan), on_step=lambda done, total: steps.append((done, total)))
    assert steps == [(1, 2), (2, 2)]

    steps.clear()
    with pytest.raises(GenerationCancelled):
        wan.render(
            request(wan),
            on_step=lambda done, total: steps.append((done, total)),
            should_stop=lambda: len(steps) >= 1,
        )
    assert steps == [(1, 2)]  # stopped after the first step; the second never ran

    with pytest.raises(GenerationCancelled):
        wan.render(request(wan), on_step=steps.append, should_stop=lambda: True)

    class LeaseLost(Exception):
        pass

    checks = []

    def lost() -> bool:
        checks.append(1)
        if len(checks) > 1:  # the first check is before generation, the next after step 1
            raise LeaseLost()
        return False

    def timed_out(done: int, total: int) -> None:
        raise EngineError("generation timed out after 3600 s")

    with pytest.raises(LeaseLost):  # the caller's own exceptions come through untouched
        wan.render(request(wan), should_stop=lost)
    assert len(checks) == 2
    with pytest.raises(EngineError, match="^generation timed out after 3600 s$"):
        wan.render(request(wan), on_step=timed_out)
    # the pipeline stays warm and usable, with the same output for the same seed
    assert np.array_equal(np.stack(wan.render(request(wan))), np.stack(wan.render(request(wan))))


def test_gpu_out_of_memory_and_model_errors_fail_the_render_not_the_engine(wan, monkeypatch):
    expected = np.stack(wan.render(request(wan)))
    transformer = wan.pool.get(wan.spec).transformer

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(transformer, "forward", out_of_memory)
    with pytest.raises(EngineError, match="out of GPU memory rendering 48x32, 5 frames") as info:
        wan.render(request(wan))
    assert "cpu_offload" in str(info.value)

    def broken(*args, **kwargs):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(transformer, "forward", broken)
    with pytest.raises(EngineError, match="WanPipeline failed: RuntimeError: mat1 and mat2"):
        wan.render(request(wan))

    monkeypatch.undo()
    assert np.array_equal(np.stack(wan.render(request(wan))), expected)


def test_requests_off_the_family_grid_are_refused(wan):
    req = request(wan)
    with pytest.raises(EngineError, match="not a multiple of 16"):
        wan.render(RenderRequest(**{**req.__dict__, "width": 40}))
    with pytest.raises(EngineError, match="4k\\+1"):
        wan.render(RenderRequest(**{**req.__dict__, "num_frames": 6}))


@pytest.fixture(scope="module")
def uncached(tiny_weights, tmp_path_factory):
    """The tiny Wan at 6 steps without a cache, one frame: the reference for each cache."""
    from openkling.config import Settings

    path = tmp_path_factory.mktemp("uncached") / "profiles.toml"
    path.write_text(profile(tiny_weights("wan"), steps=6))
    plain = build_registry(Settings(profiles_file=path)).video("kling-v1")
    return np.stack(plain.render(request(plain, frames=1)))


@pytest.mark.parametrize(
    "cache",
    [
        '{type = "first_block", threshold = 1.0}',
        '{type = "taylorseer", cache_interval = 2, disable_cache_before_step = 2}',
    ],
)
def test_step_caching_changes_output_deterministically(
    tiny_weights, profile_settings, uncached, cache
):
    text = profile(tiny_weights("wan"), steps=6, extra=f"cache = {cache}\n")
    cached = build_registry(profile_settings(text)).video("kling-v1")
    first = np.stack(cached.render(request(cached, frames=1)))
    # state resets per call
    assert np.array_equal(first, np.stack(cached.render(request(cached, frames=1))))
    assert not np.array_equal(first, uncached)
    assert cached.pool.get(cached.spec).transformer.is_cache_enabled
    steps = []
    with pytest.raises(GenerationCancelled):  # a cancel mid-run leaves no cache state behind
        cached.render(
            request(cached, frames=1),
            on_step=lambda *a: steps.append(a),
            should_stop=lambda: len(steps) == 3,
        )
    assert np.array_equal(first, np.stack(cached.render(request(cached, frames=1))))


def test_wan_2_2_runs_both_experts(tiny_weights, profile_settings):
    text = profile(tiny_weights("wan2.2"), "wan2.2", "guidance_2 = [1.0, 3.0]\n", steps=4)
    engine = build_registry(profile_settings(text)).video("kling-v1")
    pipe = engine.pool.get(engine.spec)
    calls = {"transformer": 0, "transformer_2": 0}
    hooks = [
        getattr(pipe, name).register_forward_hook(
            lambda *a, name=name: calls.__setitem__(name, calls[name] + 1)
        )
        for name in calls
    ]
    try:
        frames = engine.render(request(engine))
    finally:
        for hook in hooks:
            hook.remove()
    assert len(frames) == 5
    assert calls["transformer"] > 0 and calls["transformer_2"] > 0
    assert pipe.guidance_scale == pytest.approx(4.0)  # the default range [1, 7] at 0.5
    assert pipe._guidance_scale_2 == pytest.approx(2.0)  # guidance_2 [1, 3] at 0.5


def test_ltx_follows_its_own_grid(tiny_weights, profile_settings):
    text = profile(tiny_weights("ltx"), "ltx").replace("[48, 32]", "[64, 32]")
    engine = build_registry(profile_settings(text)).video("kling-v1")
    assert engine.name == "diffusers-ltx"
    assert engine.canvas_size(48, 40) == (64, 64)  # LTXPipeline needs multiples of 32
    assert engine.frame_plan(2) == (9, 4.0)  # the tiny VAE compresses time 4x: 4k+1
    frames = engine.render(request(engine, frames=9))
    assert len(frames) == 9 and frames[0].shape == (32, 64, 3)
    assert np.array_equal(np.stack(frames), np.stack(engine.render(request(engine, frames=9))))


def test_wrong_family_on_real_weights(tiny_weights, profile_settings):
    settings = profile_settings(profile(tiny_weights("ltx"), "wan"))
    with pytest.raises(ProfileError, match="'LTXPipeline' pipeline, not WanPipeline"):
        build_registry(settings)
    settings = profile_settings(profile(tiny_weights("wan2.2"), "wan"))
    with pytest.raises(ProfileError, match='set family = "wan2.2"'):
        build_registry(settings)


def test_models_sharing_weights_share_one_loaded_pipeline(tiny_weights, profile_settings):
    weights = tiny_weights("wan")
    text = profile(weights) + profile(weights, model="kling-v1-6")
    registry = build_registry(profile_settings(text))
    one, two = registry.video("kling-v1"), registry.video("kling-v1-6")
    one.render(request(one))
    two.render(request(two))
    assert one.pool is two.pool and one.pool.loaded() == [one.spec]


def test_warm_up_loads_and_a_full_pool_unloads_the_least_recent(tiny_weights, profile_settings):
    text = (
        "max_loaded_pipelines = 1\n"
        + profile(tiny_weights("wan"))
        + profile(tiny_weights("ltx"), "ltx", model="kling-v1-6").replace("[48, 32]", "[64, 32]")
    )
    registry = build_registry(profile_settings(text))
    wan, ltx = registry.video("kling-v1"), registry.video("kling-v1-6")
    assert wan.pool.loaded() == []  # nothing loads until asked
    registry.warm_up(["kling-v1"])
    assert wan.pool.loaded() == [wan.spec]
    expected = np.stack(wan.render(request(wan)))
    ltx.render(request(ltx, frames=9))
    assert ltx.pool is wan.pool and wan.pool.loaded() == [ltx.spec]
    assert np.array_equal(np.stack(wan.render(request(wan))), expected)  # reloaded, same frames
    assert wan.pool.loaded() == [wan.spec]


def test_unloadable_weights_fail_the_render_with_the_path(tiny_weights, tmp_path, profile_settings):
    import shutil

    weights = shutil.copytree(tiny_weights("wan"), tmp_path / "damaged")
    (weights / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a tensor file")
    engine = build_registry(profile_settings(profile(weights))).video("kling-v1")
    with pytest.raises(EngineError, match=f"cannot load WanPipeline from {weights}"):
        engine.render(request(engine))


def test_stable_audio_makes_an_exact_stereo_track(tiny_weights, profile_settings):
    weights = tiny_weights("stable-audio")
    text = (
        f'[models."kling-v2-6"]\nengine = "synthetic"\n'
        f'audio = {{engine = "stable-audio", weights = "{weights}", steps = 2, device = "cpu"}}\n'
    )
    registry = build_registry(profile_settings(text))
    audio = registry.audio("kling-v2-6")
    assert isinstance(audio, StableAudioEngine) and registry.catalog.get("kling-v2-6").audio
    track = audio.render("a dog barks at night", 5.25, seed=3)
    assert track.shape == (2, 252000) and track.dtype == np.float32
    assert np.abs(track).max() <= 1.0 and np.abs(track).max() > 0
    assert np.array_equal(track, audio.render("a dog barks at night", 5.25, seed=3))
    assert not np.array_equal(track, audio.render("a dog barks at night", 5.25, seed=4))
    assert audio.render("rain", 2.0, seed=1, sample_rate=44100).shape == (2, 88200)
    with pytest.raises(EngineError, match="at most 12.8s"):
        audio.render("rain", 20.0, seed=1)


def test_stable_audio_weights_are_checked_at_startup(tiny_weights, profile_settings):
    text = (
        '[models."kling-v2-6"]\nengine = "synthetic"\n'
        f'audio = {{engine = "stable-audio", weights = "{tiny_weights("wan")}"}}\n'
    )
    with pytest.raises(ProfileError, match="'WanPipeline' pipeline, not StableAudioPipeline"):
        build_registry(profile_settings(text))


@pytest.mark.parametrize("value", [10, -10])
def test_camera_moves_over_diffusers_output(wan, value):
    """The camera path on real diffusers frames: find each output frame inside the frame the
    engine rendered (template matching); the viewport travels the way the camera was asked."""
    import math

    import cv2

    from openkling.contract.kling import CameraConfig, CameraControl
    from openkling.worker.camera import plan_camera

    width, height = wan.output_size("std", "16:9")
    path = plan_camera(CameraControl(type="simple", config=CameraConfig(horizontal=value)))
    scale = path.overscan_for(width, height)
    canvas_w, canvas_h = wan.canvas_size(math.ceil(width * scale), math.ceil(height * scale))
    assert (canvas_w, canvas_h) > (width, height)
    req = request(wan, frames=17)
    req = RenderRequest(**{**req.__dict__, "width": canvas_w, "height": canvas_h})
    canvas = list(wan.render(req))
    out = list(path.apply(iter(canvas), out_width=width, out_height=height, num_frames=17))
    assert all(f.shape == (height, width, 3) for f in out)

    def where(frame_in, frame_out):
        scores = cv2.matchTemplate(frame_in, frame_out, cv2.TM_CCOEFF_NORMED)
        _, best, _, (x, _) = cv2.minMaxLoc(scores)
        return x, best

    (x_first, s_first), (x_last, s_last) = where(canvas[0], out[0]), where(canvas[-1], out[-1])
    assert s_first > 0.5 and s_last > 0.5  # found: the output is a view of the engine's frame
    # camera right (value > 0): the viewport moves right through the canvas; left otherwise
    assert (x_last - x_first) * value > 0
    assert abs(x_last - x_first) >= (canvas_w - width) // 2
