"""What a GPU fleet needs of the diffusers path, proven on tiny pipelines with the real
structure: memory released before a switch, shared components, sizes and lengths each family's
weights can serve, cache settings that keep CFG intact, and the profile's production keys."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from openkling.config import Settings  # noqa: E402
from openkling.engines.base import RenderRequest  # noqa: E402
from openkling.engines.diffusers import PipelinePool  # noqa: E402
from openkling.engines.diffusers.common import load_pipeline  # noqa: E402
from openkling.engines.profiles import ProfileError  # noqa: E402
from openkling.engines.registry import build_catalog, build_registry  # noqa: E402
from openkling.errors import EngineError  # noqa: E402

RES = 'std = {"16:9" = [48, 32], "1:1" = [32, 32]}'


def table(weights, family="wan", model="kling-v1", extra="", res=RES) -> str:
    line = f'weights = "{weights}"\n' if weights else ""
    return (
        f'[models."{model}"]\nengine = "diffusers"\nfamily = "{family}"\n{line}'
        f'device = "cpu"\ndtype = "float32"\nsteps = 2\nfps = 4\nresolution = {{ {res} }}\n{extra}'
    )


def registry_for(tmp_path, text: str):
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    return build_registry(Settings(profiles_file=path, data_dir=tmp_path / "data"))


def picture(width: int, height: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def request(engine, seed=1, seconds=1.0, mode="std", ratio="16:9", **kw) -> RenderRequest:
    width, height = engine.output_size(mode, ratio)
    frames, fps = engine.frame_plan(seconds)
    kw.setdefault("negative_prompt", "blur")
    kw.setdefault("cfg_scale", 0.5)
    return RenderRequest(
        prompt=kw.pop("prompt", "a red fox runs on the beach"),
        width=kw.pop("width", width),
        height=kw.pop("height", height),
        num_frames=kw.pop("num_frames", frames),
        fps=fps,
        seed=seed,
        **kw,
    )


# --- D0: the pool ---------------------------------------------------------------------------


def test_an_evicted_pipeline_is_gone_before_the_next_one_loads(tiny_weights, tmp_path):
    """Weakrefs to the evicted pipeline and its transformer are dead when the next load
    starts: on a GPU both would otherwise sit in memory during the switch."""
    text = table(tiny_weights("wan")) + table(
        tiny_weights("ltx"), "ltx", "kling-v1-6", res='std = {"16:9" = [64, 32]}'
    )
    registry = registry_for(tmp_path, text)
    wan, ltx = registry.video("kling-v1"), registry.video("kling-v1-6")
    alive_at_load: list[bool] = []
    refs: list[weakref.ref] = []

    def loader(spec):
        alive_at_load.append(any(r() is not None for r in refs))
        return load_pipeline(spec)

    pool = PipelinePool(1, loader=loader)
    wan.pool = ltx.pool = pool
    with pool.lock:
        pipe = pool.get(wan.spec)
        refs.extend([weakref.ref(pipe), weakref.ref(pipe.transformer), weakref.ref(pipe.vae)])
        del pipe
        pool.get(ltx.spec)
    gc.collect()
    assert alive_at_load == [False, False]
    assert all(r() is None for r in refs)
    assert pool.loaded() == [ltx.spec]


def test_text_and_image_pipelines_of_the_same_weights_share_components(tiny_weights, tmp_path):
    weights = tiny_weights("ltx")
    res = 'std = {"16:9" = [64, 32]}'
    text = table(weights, "ltx", res=res) + (
        f'[models."kling-v1".i2v]\nweights = "{weights}"\nsteps = 2\nfps = 4\n'
        f"resolution = {{ {res} }}\n"
    )
    registry = registry_for(tmp_path, text)
    t2v, i2v = registry.video("kling-v1"), registry.video("kling-v1", image=True)
    loads: list[str] = []

    def loader(spec):
        loads.append(spec.pipeline)
        return load_pipeline(spec)

    t2v.pool = i2v.pool = PipelinePool(1, loader=loader)
    t2v.render(request(t2v))
    i2v.render(request(i2v, image=picture(64, 32, 3)))
    t2v.render(request(t2v))
    assert loads == ["LTXPipeline"]  # the image pipeline came from from_pipe, no reload
    with t2v.pool.lock:
        one, two = t2v.pool.get(t2v.spec), t2v.pool.get(i2v.spec)
    assert type(two).__name__ == "LTXImageToVideoPipeline" and two.transformer is one.transformer
    assert {s.pipeline for s in t2v.pool.loaded()} == {"LTXPipeline", "LTXImageToVideoPipeline"}


def test_warm_up_loads_only_what_fits(tiny_weights, tmp_path):
    text = (
        "max_loaded_pipelines = 1\n"
        + table(tiny_weights("wan"))
        + table(tiny_weights("wan"), model="kling-v1-5", extra="vae_tiling = true\n")
    )
    registry = registry_for(tmp_path, text)
    first, second = registry.video("kling-v1"), registry.video("kling-v1-5")
    loads: list[object] = []

    def loader(spec):
        loads.append(spec)
        return load_pipeline(spec)

    first.pool._loader = loader
    registry.warm_up(["kling-v1", "kling-v1-5"])
    assert loads == [first.spec] and first.pool.loaded() == [first.spec]
    assert second.spec not in first.pool.loaded()


# --- D1: CogVideoX-5b-I2V renders its native size and length only ---------------------------


def cog_profile(weights, res="") -> str:
    res = f"resolution = {{ {res} }}\n" if res else ""
    return (
        f'[models."kling-v1"]\nengine = "diffusers"\nfamily = "cogvideox"\ndevice = "cpu"\n'
        f'dtype = "float32"\nfps = 4\n[models."kling-v1".i2v]\nweights = "{weights}"\n'
        f"steps = 1\n{res}"
    )


def test_cogvideox_i2v_serves_its_one_size_and_length(tiny_weights, tmp_path):
    from openkling.domain.request import CameraControl, GenerationRequest
    from openkling.worker.plan import plan_render

    weights = tiny_weights("cogvideox-5b-i2v")
    with pytest.raises(ProfileError, match=r'resolution.std."9:16" = \[32, 64\].*exactly 64x32'):
        registry_for(tmp_path, cog_profile(weights, 'std = {"9:16" = [32, 64]}'))
    engine = registry_for(tmp_path, cog_profile(weights)).video("kling-v1", image=True)
    assert {engine.output_size(m, r) for m in ("std", "pro") for r in ("16:9", "9:16", "1:1")} == {
        (64, 32)
    }
    assert engine.frame_plan(1) == (9, 8.0)
    frames = engine.render(request(engine, num_frames=5, image=picture(64, 32, 1)))
    assert len(frames) == 5 and frames[0].shape == (32, 64, 3)  # 9 rendered, 5 kept
    # a camera move crops inside the native size: the canvas stays 64x32
    move = GenerationRequest(
        model_name="kling-v1", prompt="a fox", negative_prompt="", duration=1, aspect_ratio=None,
        mode="std", cfg_scale=0.5, camera_control=CameraControl(type="down_back"),
    )  # fmt: skip
    plan = plan_render(move, engine, seed=1)
    assert (plan.canvas_w, plan.canvas_h) == (64, 32)
    assert plan.width < 64 and plan.height < 32 and plan.width % 2 == plan.height % 2 == 0
    with pytest.raises(EngineError, match="exactly 64x32"):
        engine.render(request(engine, width=48, image=picture(48, 32, 1)))


# --- D3 and the CFG probe: caches that would share one state across CFG's two passes ------


def test_pyramid_attention_broadcast_is_refused_where_cfg_passes_are_separate(tmp_path):
    from openkling.engines.profiles import load_profiles

    pab = 'cache = { type = "pyramid_attention_broadcast" }\n'
    hunyuan_cfg = "pipeline_args = { true_cfg_scale = 6.0 }\n"
    for family, extra in (("wan", ""), ("wan2.2", ""), ("hunyuan", hunyuan_cfg)):
        path = tmp_path / "p.toml"
        path.write_text(table("/nowhere", family, extra=pab + extra))
        with pytest.raises(ProfileError, match="separate conditional and unconditional passes"):
            load_profiles(path)
    path.write_text(table("/nowhere", "ltx", extra=pab))  # LTX batches both passes: allowed
    assert load_profiles(path).models["kling-v1"].cache.type == "pyramid_attention_broadcast"


@pytest.mark.parametrize(
    "cache",
    [
        "none",
        '{ type = "first_block", threshold = 0.2 }',
        '{ type = "taylorseer", cache_interval = 2, disable_cache_before_step = 1 }',
        '{ type = "taylorseer", cache_interval = 2, disable_cache_before_step = 1, lite = true }',
    ],
)
def test_cfg_passes_stay_different_under_each_allowed_cache(tiny_weights, tmp_path, cache):
    """Every transformer call of a step is recorded: the conditional and unconditional
    outputs must differ at every step, or CFG silently stopped guiding."""
    extra = 'cache = "none"\n' if cache == "none" else f"cache = {cache}\n"
    engine = registry_for(
        tmp_path, table(tiny_weights("wan"), extra=extra).replace("steps = 2", "steps = 6")
    ).video("kling-v1")
    with engine.pool.lock:
        transformer = engine.pool.get(engine.spec).transformer
    outputs: list[torch.Tensor] = []
    handle = transformer.register_forward_hook(lambda m, a, out: outputs.append(out[0].clone()))
    try:
        engine.render(request(engine, cfg_scale=1.0, negative_prompt="night city"))
    finally:
        handle.remove()
    assert len(outputs) == 12  # 6 steps x (cond, uncond)
    for cond, uncond in zip(outputs[0::2], outputs[1::2], strict=True):
        assert not torch.allclose(cond, uncond)


def test_taylorseer_is_refused_when_its_cache_cannot_fit(tiny_weights, tmp_path):
    cache = 'cache = { type = "taylorseer", memory_gb = 0.000001 }\n'
    with pytest.raises(ProfileError, match=r"taylorseer would keep about .* GB.*lite = true"):
        registry_for(tmp_path, table(tiny_weights("wan"), extra=cache))
    cache = 'cache = { type = "taylorseer", memory_gb = 0.000001, lite = true }\n'
    with pytest.raises(ProfileError, match="memory_gb"):
        registry_for(tmp_path, table(tiny_weights("wan"), extra=cache))
    assert registry_for(tmp_path, table(tiny_weights("wan"), extra=cache.replace("0.000001", "1")))


# --- D5: the trained length; longer videos in segments, or refused at create ---------------


def test_long_video_is_refused_at_create_without_a_continuation(tiny_weights, tmp_path):
    from openkling.contract.kling import parse_text2video
    from openkling.errors import InvalidParameter

    text = table(tiny_weights("wan"), extra="max_frames = 21\n")  # 5 s at 4 fps
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    catalog = build_catalog(Settings(profiles_file=path, data_dir=tmp_path))
    assert catalog.get("kling-v1").durations == (5,)
    with pytest.raises(InvalidParameter) as info:
        parse_text2video({"model_name": "kling-v1", "prompt": "a fox", "duration": "10"}, catalog)
    assert "duration" in str(info.value) and "kling-v1-6" in str(info.value)
    engine = registry_for(tmp_path, text).video("kling-v1")
    with pytest.raises(EngineError, match="beyond the 21 frames"):
        engine.render(request(engine, seconds=10))
    with pytest.raises(ProfileError, match="max_frames = 20.*4k\\+1.*17"):
        registry_for(tmp_path, table(tiny_weights("wan"), extra="max_frames = 20\n"))


def test_long_video_renders_in_segments_continuing_from_the_last_frame(tiny_weights, tmp_path):
    from openkling.engines.diffusers.engine import segment_lengths

    assert segment_lengths(161, 81, 81, 4) == [81, 81]
    assert segment_lengths(241, 81, 81, 4) == [81, 81, 81]
    assert segment_lengths(85, 81, 81, 4) == [81, 5]
    assert segment_lengths(41, 81, 81, 4) == [41]
    text = table(tiny_weights("wan"), extra="max_frames = 5\n") + (
        f'[models."kling-v1".i2v]\nweights = "{tiny_weights("wan-i2v")}"\nsteps = 2\nfps = 4\n'
        f"resolution = {{ {RES} }}\n"
    )
    registry = registry_for(tmp_path, text)
    engine, image = registry.video("kling-v1"), registry.video("kling-v1", image=True)
    assert engine.continuation is image and engine.longest(9)
    seen: list[tuple] = []
    real = image._render_one

    def spy(req, on_step, should_stop):
        seen.append((req.image, req.num_frames))
        return real(req, on_step, should_stop)

    image._render_one = spy
    steps: list[tuple[int, int]] = []
    frames = engine.render(request(engine, seconds=2), on_step=lambda *a: steps.append(a))
    assert len(frames) == 9  # 5 + (5 - 1): the continuation's first frame is not repeated
    first = engine.render(request(engine, seconds=1))
    assert all(np.array_equal(a, b) for a, b in zip(frames[:5], first, strict=True))
    ((start, length),) = seen
    assert length == 5 and np.array_equal(start, first[-1])
    assert steps[-1] == (4, 4) and len(steps) == 4  # one progress scale across both passes


# --- D7: the profile's production keys ------------------------------------------------------


def test_scheduler_negative_prompt_and_dtypes_are_applied(tiny_weights, tmp_path):
    extra = (
        'scheduler = { name = "FlowMatchEulerDiscreteScheduler", flow_shift = 5.0 }\n'
        'negative_prompt = "blurry, night"\n'
    )
    text = table(tiny_weights("wan"), extra=extra).replace('"float32"', '"bfloat16"')
    engine = registry_for(
        tmp_path, text.replace("fps = 4\n", 'fps = 4\nvae_dtype = "float32"\n')
    ).video("kling-v1")
    with engine.pool.lock:
        pipe = engine.pool.get(engine.spec)
    assert type(pipe.scheduler).__name__ == "FlowMatchEulerDiscreteScheduler"
    assert pipe.scheduler.config.shift == 5.0
    assert pipe.transformer.dtype == torch.bfloat16 and pipe.text_encoder.dtype == torch.bfloat16
    assert pipe.vae.dtype == torch.float32  # loaded as asked, not silently float32 everywhere
    default = engine.render(request(engine, negative_prompt=""))
    explicit = engine.render(request(engine, negative_prompt="blurry, night"))
    other = engine.render(request(engine, negative_prompt="sunny beach"))
    assert all(np.array_equal(a, b) for a, b in zip(default, explicit, strict=True))
    assert not np.array_equal(np.stack(default), np.stack(other))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('scheduler = { name = "EulerScheduler" }\n', "scheduler must be"),
        (
            'scheduler = { name = "CogVideoXDPMScheduler", flow_shift = 3.0 }\n',
            "takes no flow_shift",
        ),
        ('vae_dtype = "float8"\n', "vae_dtype"),
        ('loras = [{ path = "/nowhere.safetensors", target = "transformer_2" }]\n', "needs family"),
        ("loras = [{ scale = 1.0 }]\n", "path"),
        ('quantize = "fp8"\n', "needs a CUDA GPU"),
        ('quantize = "int4"\n', "quantize"),
        ('offload = "group"\n', "needs a GPU"),
        ('offload = "model"\ncpu_offload = "model"\n', "not both"),
        ('devices = ["cpu", "cpu"]\n', "parallel"),
        ('devices = ["cpu", "cpu"]\nparallel = { ulysses = 3 }\n', "must equal"),
        ('devices = ["cuda:0", "cuda:0"]\nparallel = { ulysses = 2 }\n', "twice"),
        ('devices = ["cpu", "cpu"]\nparallel = { ring = 2 }\n', "ring needs CUDA devices"),
        ('long_video = "segments"\n', "add an \\[i2v\\] table"),
    ],
)
def test_production_keys_are_checked_at_startup(tmp_path, extra, message):
    from openkling.engines.profiles import load_profiles

    path = tmp_path / "p.toml"
    path.write_text(
        table("/nowhere", extra=extra).replace(
            'device = "cpu"\n', "", 1 if "devices" in extra else 0
        )
    )
    with pytest.raises(ProfileError, match=message):
        load_profiles(path)


@pytest.mark.parametrize("family", ["cogvideox", "hunyuan"])
def test_several_devices_are_refused_for_families_without_a_parallel_plan(tmp_path, family):
    from openkling.engines.profiles import load_profiles

    path = tmp_path / "p.toml"
    extra = 'devices = ["cuda:0", "cuda:1"]\nparallel = { ulysses = 2 }\n'
    path.write_text(table("/nowhere", family, extra=extra).replace('device = "cpu"\n', ""))
    with pytest.raises(ProfileError, match=f'family "{family}" has no context-parallel plan'):
        load_profiles(path)


def test_quantize_needs_torchao_and_vae_dtype_is_refused_for_cogvideox(tiny_weights, tmp_path):
    import importlib.util

    if importlib.util.find_spec("torchao") is None:
        with pytest.raises(ProfileError, match="needs torchao"):
            registry_for(tmp_path, table(tiny_weights("wan"), extra='quantize = "int8"\n'))
    with pytest.raises(ProfileError, match="leave vae_dtype out for CogVideoX"):
        registry_for(tmp_path, cog_profile(tiny_weights("cogvideox-5b-i2v")).replace(
            'dtype = "float32"\n', 'dtype = "float32"\nvae_dtype = "float32"\n'))  # fmt: skip


def test_a_lora_at_scale_zero_changes_nothing_and_at_scale_one_changes_the_frames(
    tiny_weights, tmp_path
):
    weights, lora = tiny_weights("wan"), tiny_weights("wan-lora")
    plain = registry_for(tmp_path, table(weights)).video("kling-v1")
    base = np.stack(plain.render(request(plain)))
    frames = {}
    for scale in (0.0, 1.0):
        extra = f'loras = [{{ path = "{lora}", scale = {scale} }}]\n'
        engine = registry_for(tmp_path, table(weights, extra=extra)).video("kling-v1")
        frames[scale] = np.stack(engine.render(request(engine)))
    assert np.array_equal(frames[0.0], base)
    assert not np.array_equal(frames[1.0], base)
    with pytest.raises(ProfileError, match="does not exist"):
        registry_for(tmp_path, table(weights, extra='loras = [{ path = "missing.safetensors" }]\n'))


def test_guidance_2_keeps_the_low_noise_cfg_when_guidance_is_one(tiny_weights, tmp_path):
    def frames(extra: str) -> np.ndarray:
        text = table(tiny_weights("wan2.2"), "wan2.2", extra=extra).replace(
            "steps = 2", "steps = 4"
        )
        engine = registry_for(tmp_path, text).video("kling-v1")
        return np.stack(engine.render(request(engine)))

    off = frames("guidance = [1.0, 1.0]\nguidance_2 = [1.0, 1.0]\n")
    low_only = frames("guidance = [1.0, 1.0]\nguidance_2 = [4.0, 4.0]\n")
    assert not np.array_equal(off, low_only)  # before: guidance_2 silently dropped


def test_i2v_takes_guidance_2_and_a_lone_image_tail_is_the_last_frame(tiny_weights, tmp_path):
    i2v = (
        f'[models."kling-v1".i2v]\nweights = "{tiny_weights("wan2.2-i2v")}"\nfamily = "wan2.2"\n'
        f"end_frame = true\nguidance_2 = [1.0, 3.0]\nsteps = 2\nfps = 4\nresolution = {{ {RES} }}\n"
    )
    engine = registry_for(tmp_path, table(None, "wan2.2") + i2v).video("kling-v1", image=True)
    assert engine.profile.guidance_2 == (1.0, 3.0)
    tail = picture(48, 32, 4)
    forward = engine.render(request(engine, image=tail))
    backward = engine.render(request(engine, image_tail=tail))
    assert all(np.array_equal(a, b) for a, b in zip(backward, forward[::-1], strict=True))


def test_ltx_condition_weights_are_refused_for_image_to_video(tiny_weights, tmp_path):
    import json
    import shutil

    weights = shutil.copytree(tiny_weights("ltx"), tmp_path / "ltx-097")
    index = json.loads((weights / "model_index.json").read_text())
    (weights / "model_index.json").write_text(
        json.dumps({**index, "_class_name": "LTXConditionPipeline"})
    )
    text = table(None, "ltx") + f'[models."kling-v1".i2v]\nweights = "{weights}"\n'
    with pytest.raises(ProfileError, match="LTXConditionPipeline.*Lightricks/LTX-Video"):
        registry_for(tmp_path, text)


# --- tiny builders of the remaining families, through the real engine -----------------------


@pytest.mark.parametrize(
    ("kind", "family", "size", "rule"),
    [
        ("wan2.2-ti2v", "wan2.2", (64, 32), (32, 4, 24.0, 121)),  # 16 px latents, 2x2 patches
        ("cogvideox", "cogvideox", (32, 32), (16, 8, 8.0, 49)),
        ("cogvideox-1.5", "cogvideox", (32, 32), (16, 16, 16.0, 161)),
        ("hunyuan", "hunyuan", (32, 32), (16, 4, 24.0, 129)),
    ],
)
def test_tiny_builders_of_every_family_render_through_the_engine(
    tiny_weights, tmp_path, kind, family, size, rule
):
    res = f'std = {{ "16:9" = [{size[0]}, {size[1]}] }}'
    text = (
        table(tiny_weights(kind), family, res=res)
        .replace("fps = 4\n", "")
        .replace("steps = 2", "steps = 1")
    )
    engine = registry_for(tmp_path, text).video("kling-v1")
    layout = engine.layout
    assert (layout.size_multiple, layout.frame_step, layout.fps, engine.max_frames) == rule
    frames, fps = engine.frame_plan(0.5)
    out = engine.render(request(engine, seconds=0.5, prompt="a red fox"))
    assert len(out) == frames and out[0].shape == (size[1], size[0], 3)
