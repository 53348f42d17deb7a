"""Profiles and startup checks, on weight folders laid out like the published ones (no torch)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from openkling.config import Settings
from openkling.engines.diffusers import DiffusersEngine
from openkling.engines.diffusers.common import frames_for
from openkling.engines.profiles import ProfileError, load_profiles
from openkling.engines.registry import build_catalog, build_registry

# model_index.json and the config keys that decide sizes and frame counts, as published
LAYOUTS = {
    "wan2.1": (
        "WanPipeline",
        {"boundary_ratio": None, "expand_timesteps": False},
        {
            "vae": {"_class_name": "AutoencoderKLWan", "z_dim": 16},
            "transformer": {"_class_name": "WanTransformer3DModel", "patch_size": [1, 2, 2]},
        },
    ),
    "wan2.2-a14b": (
        "WanPipeline",
        {"boundary_ratio": 0.875, "expand_timesteps": False},
        {
            "vae": {"_class_name": "AutoencoderKLWan", "z_dim": 16},
            "transformer": {"_class_name": "WanTransformer3DModel", "patch_size": [1, 2, 2]},
            "transformer_2": {"_class_name": "WanTransformer3DModel", "patch_size": [1, 2, 2]},
        },
    ),
    "wan2.2-ti2v": (
        "WanPipeline",
        {"boundary_ratio": None, "expand_timesteps": True},
        {
            "vae": {"_class_name": "AutoencoderKLWan", "z_dim": 48, "scale_factor_spatial": 16},
            "transformer": {"_class_name": "WanTransformer3DModel", "patch_size": [1, 2, 2]},
        },
    ),
    "ltx": (
        "LTXPipeline",
        {},
        {
            "vae": {
                "_class_name": "AutoencoderKLLTXVideo",
                "patch_size": 4,
                "patch_size_t": 1,
                "spatio_temporal_scaling": [True, True, True, False],
            },
            "transformer": {"_class_name": "LTXVideoTransformer3DModel", "patch_size": 1},
        },
    ),
    "cogvideox-1.0": (
        "CogVideoXPipeline",
        {},
        {
            "vae": {"block_out_channels": [128, 256, 256, 512], "temporal_compression_ratio": 4},
            "transformer": {"patch_size": 2, "patch_size_t": None, "sample_frames": 49},
        },
    ),
    "cogvideox-1.5": (
        "CogVideoXPipeline",
        {},
        {
            "vae": {"block_out_channels": [128, 256, 256, 512], "temporal_compression_ratio": 4},
            "transformer": {"patch_size": 2, "patch_size_t": 2, "sample_frames": 81},
        },
    ),
    "hunyuan": (
        "HunyuanVideoPipeline",
        {},
        {
            "vae": {"spatial_compression_ratio": 8, "temporal_compression_ratio": 4},
            "transformer": {"patch_size": 2, "patch_size_t": 1},
        },
    ),
}


def lay_out(root: Path, layout: str) -> Path:
    """A pipeline folder with the published configs and empty weight files."""
    class_name, extra, components = LAYOUTS[layout]
    index = {"_class_name": class_name, "_diffusers_version": "0.35.0", **extra}
    for name, config in components.items():
        (root / name).mkdir(parents=True)
        (root / name / "config.json").write_text(json.dumps(config))
        (root / name / "diffusion_pytorch_model.safetensors").write_bytes(b"")
        index[name] = ["diffusers", config.get("_class_name", "Model")]
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text("{}")
    index["scheduler"] = ["diffusers", "FlowMatchEulerDiscreteScheduler"]
    if class_name == "WanPipeline" and "transformer_2" not in components:
        index["transformer_2"] = [None, None]
    (root / "model_index.json").write_text(json.dumps(index))
    return root


def engine_for(profile_settings, weights: Path, family: str, extra: str = "") -> DiffusersEngine:
    settings = profile_settings(
        f'[models."kling-v1"]\nengine = "diffusers"\nfamily = "{family}"\n'
        f'weights = "{weights}"\n{extra}'
    )
    return build_registry(settings).video("kling-v1")


@pytest.mark.parametrize(
    "layout, family, fps, frames_5s, frames_10s, multiple, pro_16_9",
    [
        ("wan2.1", "wan", 16, 81, 161, 16, (1280, 720)),
        ("wan2.2-a14b", "wan2.2", 16, 81, 161, 16, (1280, 720)),
        ("wan2.2-ti2v", "wan2.2", 24, 121, 241, 32, (1280, 704)),
        ("ltx", "ltx", 24, 121, 241, 32, (1280, 704)),
        ("cogvideox-1.0", "cogvideox", 8, 41, 81, 16, (720, 480)),
        ("cogvideox-1.5", "cogvideox", 16, 81, 161, 16, (1360, 768)),
        ("hunyuan", "hunyuan", 24, 121, 241, 16, (1280, 720)),
    ],
)
def test_family_rules_follow_the_weights(
    tmp_path, profile_settings, layout, family, fps, frames_5s, frames_10s, multiple, pro_16_9
):
    engine = engine_for(profile_settings, lay_out(tmp_path / "w", layout), family)
    assert engine.frame_plan(5) == (frames_5s, fps)
    assert engine.frame_plan(10) == (frames_10s, fps)
    assert engine.canvas_size(multiple * 10 + 1, multiple - 1) == (multiple * 11, multiple)
    assert engine.canvas_size(multiple * 10, multiple * 3) == (multiple * 10, multiple * 3)
    assert engine.output_size("pro", "16:9") == pro_16_9
    for ratios in engine.resolutions.values():
        for width, height in ratios.values():
            assert width % multiple == 0 and height % multiple == 0


def test_frame_counts_are_never_shorter_than_asked_and_minimal():
    rng = random.Random(7)
    for _ in range(500):
        duration, fps, step = (
            rng.uniform(0.1, 12),
            rng.choice([8, 16, 24, 25, 30]),
            rng.choice([4, 8]),
        )
        frames = frames_for(duration, fps, step)
        assert (frames - 1) % step == 0
        assert frames / fps >= duration - 1e-9
        assert frames == 1 or (frames - step) / fps < duration


def test_profile_overrides_fps_steps_sizes_and_guidance(tmp_path, profile_settings):
    engine = engine_for(
        profile_settings,
        lay_out(tmp_path / "w", "wan2.1"),
        "wan",
        'fps = 8\nsteps = 12\nguidance = [2.0, 6.0]\n[models."kling-v1".resolution]\n'
        'std = {"16:9" = [640, 352]}\n',
    )
    assert engine.frame_plan(5) == (41, 8)
    assert engine.steps == 12 and engine.guidance == (2.0, 6.0)
    assert engine.output_size("std", "16:9") == (640, 352)
    assert engine.output_size("std", "1:1") == (624, 624)  # the family default stays


def expect_error(profile_settings, text: str, *fragments: str) -> str:
    settings = profile_settings(text)
    with pytest.raises(ProfileError) as info:
        build_registry(settings)
    message = str(info.value)
    for fragment in (str(settings.profiles_file), *fragments):
        assert fragment in message, message
    return message


def model(weights: Path | str, family: str = "wan", extra: str = "") -> str:
    return (
        f'[models."kling-v1"]\nengine = "diffusers"\nfamily = "{family}"\n'
        f'weights = "{weights}"\n{extra}'
    )


def test_missing_weights_directory_fails_at_startup(tmp_path, profile_settings):
    missing = tmp_path / "nowhere"
    expect_error(profile_settings, model(missing), "kling-v1", str(missing), "does not exist")


def test_folder_without_model_index_fails_at_startup(tmp_path, profile_settings):
    (tmp_path / "w").mkdir()
    expect_error(profile_settings, model(tmp_path / "w"), "model_index.json", "is missing")


def test_missing_component_or_weight_files_fail_at_startup(tmp_path, profile_settings):
    weights = lay_out(tmp_path / "w", "wan2.1")
    (weights / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    expect_error(profile_settings, model(weights), str(weights / "transformer"), "no weights")
    (weights / "transformer" / "config.json").unlink()
    (weights / "transformer").rmdir()
    expect_error(profile_settings, model(weights), "'transformer'", "is missing")


@pytest.mark.parametrize(
    "layout, family, fragments",
    [
        ("ltx", "wan", ["'LTXPipeline'", "WanPipeline", "wrong family"]),
        ("wan2.1", "cogvideox", ["'WanPipeline'", "CogVideoXPipeline", "wrong family"]),
        ("wan2.2-a14b", "wan", ["Wan 2.2", 'family = "wan2.2"']),
        ("wan2.2-ti2v", "wan", ["Wan 2.2", "TI2V"]),
        ("wan2.1", "wan2.2", ["Wan 2.1", 'family = "wan"']),
    ],
)
def test_wrong_family_fails_at_startup(tmp_path, profile_settings, layout, family, fragments):
    weights = lay_out(tmp_path / "w", layout)
    expect_error(profile_settings, model(weights, family), "kling-v1", *fragments)


@pytest.mark.parametrize(
    "layout, family, size, fragments",
    [
        ("wan2.1", "wan", "[850, 480]", ["850", "multiple of 16", "nearest: 864"]),
        ("wan2.1", "wan", "[8, 8]", ["width 8", "at least 16"]),
        ("ltx", "ltx", "[832, 496]", ["height 496", "multiple of 32"]),
        ("wan2.2-ti2v", "wan2.2", "[1280, 720]", ["720", "multiple of 32"]),
    ],
)
def test_impossible_size_fails_at_startup(
    tmp_path, profile_settings, layout, family, size, fragments
):
    weights = lay_out(tmp_path / "w", layout)
    extra = f'[models."kling-v1".resolution]\npro = {{"16:9" = {size}}}\n'
    expect_error(
        profile_settings, model(weights, family, extra), 'resolution.pro."16:9"', *fragments
    )


@pytest.mark.parametrize(
    "extra, fragments",
    [
        ("stepz = 3\n", ["unknown key(s) 'stepz'", "allowed:", "steps"]),
        ('dtype = "float8"\n', ["dtype = 'float8'", "bfloat16"]),
        ('cpu_offload = "model"\ndevice = "cpu"\n', ["needs a GPU"]),
        ("guidance = [5, 1]\n", ["guidance must be [min, max]"]),
        ("guidance_2 = [1, 3]\n", ['"guidance_2" is only for family "wan2.2"']),
        ('cache = {type = "magic"}\n', ["cache must be", "first_block"]),
        ('cache = {type = "first_block", treshold = 0.1}\n', ["'treshold'", "threshold"]),
        ("steps = 0\n", ["steps must be an integer >= 1"]),
        ("prices = {std_7 = -1}\n", ["prices.std_7"]),
        ('audio = {engine = "stable-audio"}\n', ['"weights" is required']),
        ('[models."kling-v1".resolution]\nstd = {"4:3" = [640, 480]}\n', ["'4:3'", "16:9"]),
        ("pipeline_args = {num_frames = 9}\n", ["pipeline_args num_frames", "set by openkling"]),
    ],
)
def test_bad_values_fail_with_the_key_named(tmp_path, profile_settings, extra, fragments):
    weights = lay_out(tmp_path / "w", "wan2.1")
    expect_error(profile_settings, model(weights, "wan", extra), "kling-v1", *fragments)


def test_file_level_mistakes(tmp_path, profile_settings):
    expect_error(profile_settings, '[models."kling-v9"]\nengine = "synthetic"\n', "kling-v9")
    expect_error(profile_settings, '[models."kling-v1"]\nfamily = "wan"\n', '"engine" is required')
    expect_error(profile_settings, "[models\n", "not valid TOML")
    expect_error(profile_settings, "gpus = 2\n", "unknown key(s) 'gpus'")
    with pytest.raises(ProfileError, match="not found"):
        load_profiles(tmp_path / "absent.toml")


def test_without_profile_every_model_is_synthetic(tmp_path):
    registry = build_registry(Settings(data_dir=tmp_path))
    assert {registry.video(name).name for name in registry.catalog.names} == {"synthetic"}
    audio = [n for n in registry.catalog.names if registry.audio(n)]
    assert audio == ["kling-v2-6", "kling-v3", "kling-2.6", "kling-3.0", "kling-3.0-omni"]


def test_profile_sets_audio_and_prices_and_leaves_the_rest(tmp_path, profile_settings):
    weights = lay_out(tmp_path / "w", "wan2.1")
    text = (
        model(weights, "wan", "audio = true\nprices = {std_5 = 4, pro_10 = 50.5}\n")
        + '[models."kling-v2-6"]\nengine = "synthetic"\naudio = false\n'
    )
    registry = build_registry(profile_settings(text))
    catalog = registry.catalog
    assert registry.video("kling-v1").name == "diffusers-wan"
    assert registry.video("kling-v1-5").name == "synthetic"
    assert registry.audio("kling-v1") is not None and catalog.get("kling-v1").audio
    assert catalog.get("kling-v1").price("std", 5) == 4
    assert catalog.get("kling-v1").price("pro", 10) == 50.5
    assert catalog.get("kling-v1").price("pro", 5) == 35  # the default table fills the rest
    assert registry.audio("kling-v2-6") is None and not catalog.get("kling-v2-6").audio
    assert catalog.get("kling-v1-6") == build_catalog(Settings()).get("kling-v1-6")


def test_catalog_alone_does_not_look_at_weights(tmp_path, profile_settings):
    settings = profile_settings(model(tmp_path / "only-on-the-gpu-host", "wan", "audio = true\n"))
    assert build_catalog(settings).get("kling-v1").audio
    with pytest.raises(ProfileError):
        build_registry(settings)


def test_relative_weights_resolve_beside_the_profile(tmp_path, profile_settings):
    lay_out(tmp_path / "models" / "wan", "wan2.1")
    engine = engine_for(profile_settings, Path("models/wan"), "wan")
    assert engine.profile.weights == (tmp_path / "models" / "wan").resolve()


def test_cogvideox_lengths_follow_the_model_cards(tmp_path, profile_settings):
    v1_5 = engine_for(profile_settings, lay_out(tmp_path / "a", "cogvideox-1.5"), "cogvideox")
    assert v1_5.frame_plan(2.5) == (49, 16)  # 16N+1, not merely 8N+1 (41)
    assert v1_5.max_frames == 161 and v1_5.longest(161)
    v1_0 = engine_for(profile_settings, lay_out(tmp_path / "b", "cogvideox-1.0"), "cogvideox")
    assert v1_0.frame_plan(5) == (41, 8)
    assert v1_0.frame_plan(10) == (81, 8)  # longer than trained on: never one pass
    assert v1_0.max_frames == 49 and not v1_0.longest(81)


def test_the_documented_example_profile_is_valid():
    example = Path(__file__).resolve().parents[3] / "examples" / "profiles.toml"
    profiles = load_profiles(example)
    assert set(profiles.models) == {
        "kling-v1",
        "kling-v1-5",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-1",
        "kling-v2-1-master",
        "kling-v2-5-turbo",
        "kling-v2-6",
    }
    image_only = profiles.models["kling-v2-1"]
    assert image_only.weights is None and image_only.i2v.end_frame
    assert profiles.models["kling-v1-5"].i2v.family == "ltx"
    families = {p.family for p in profiles.models.values() if p.engine == "diffusers"}
    assert families == {"wan", "wan2.2", "ltx", "cogvideox", "hunyuan"}
    assert profiles.models["kling-v2-6"].audio.engine == "stable-audio"
    turbo = profiles.models["kling-v2-5-turbo"]  # the distilled profile
    assert turbo.steps == 4 and turbo.guidance == (1.0, 1.0) and len(turbo.loras) == 2
    assert {lora.target for lora in turbo.loras} == {"transformer", "transformer_2"}
    parallel = profiles.models["kling-v2-master"]
    assert parallel.parallel == ("ulysses", 2) and parallel.long_video == "segments"
