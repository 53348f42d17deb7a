"""Image-to-video through tiny random pipelines (Wan 2.1 I2V and FLF2V, LTX) built in-process,
saved like real weights and loaded through a profile's [i2v] table."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from openkling.config import Settings  # noqa: E402
from openkling.engines.base import RenderRequest  # noqa: E402
from openkling.engines.profiles import ProfileError, load_profiles  # noqa: E402
from openkling.engines.registry import build_catalog, build_registry  # noqa: E402
from openkling.errors import EngineError  # noqa: E402

RES = 'std = {"16:9" = [48, 32], "1:1" = [32, 32]}'


def profile(text_weights, i2v: str, model: str = "kling-v1", family: str = "wan") -> str:
    weights = f'weights = "{text_weights}"\n' if text_weights else ""
    return (
        f'[models."{model}"]\nengine = "diffusers"\nfamily = "{family}"\n{weights}'
        f'device = "cpu"\ndtype = "float32"\nsteps = 2\nfps = 4\nresolution = {{ {RES} }}\n'
        f'[models."{model}".i2v]\n{i2v}resolution = {{ {RES} }}\nsteps = 2\nfps = 4\n'
    )


def registry_for(tmp_path, text: str):
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    return build_registry(Settings(profiles_file=path, data_dir=tmp_path / "data"))


def picture(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def request(engine, seed: int = 1, **images) -> RenderRequest:
    width, height = engine.output_size("std", "16:9")
    frames, fps = engine.frame_plan(1)
    images.setdefault("image", picture(width, height, 7))
    return RenderRequest("a red fox", "blur", width, height, frames, fps, 0.5, seed, **images)


@pytest.fixture(scope="module")
def wan_i2v(tiny_weights, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wan-i2v")
    text = profile(tiny_weights("wan"), f'weights = "{tiny_weights("wan-i2v")}"\n')
    return registry_for(tmp, text)


def test_a_model_gets_its_own_image_engine_and_the_catalog_says_so(wan_i2v):
    text, image = wan_i2v.video("kling-v1"), wan_i2v.video("kling-v1", image=True)
    assert text.name == "diffusers-wan" and image.name == "diffusers-wan-i2v"
    assert image.capabilities.image_input and not image.capabilities.end_frame
    assert not image.capabilities.masks
    entry = wan_i2v.catalog.get("kling-v1")
    assert entry.text2video and entry.image2video and not entry.end_frame and not entry.masks
    other = wan_i2v.catalog.get("kling-v1-6")  # not in the profile: the synthetic engine's
    assert other.image2video and other.masks


def test_same_seed_same_frames_and_the_image_steers_them(wan_i2v):
    engine = wan_i2v.video("kling-v1", image=True)
    first = list(engine.render(request(engine, seed=3)))
    assert len(first) == 5 and first[0].shape == (32, 48, 3)
    again = list(engine.render(request(engine, seed=3)))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    other_seed = list(engine.render(request(engine, seed=4)))
    assert not np.array_equal(first[-1], other_seed[-1])
    other_image = list(engine.render(request(engine, seed=3, image=picture(48, 32, 8))))
    assert not np.array_equal(first[0], other_image[0])


def test_first_last_frame_weights_take_the_tail(tiny_weights, tmp_path):
    weights = tiny_weights("wan-flf2v")
    with pytest.raises(ProfileError, match="first-last-frame .*end_frame = true"):
        registry_for(tmp_path, profile(None, f'weights = "{weights}"\n'))
    registry = registry_for(tmp_path, profile(None, f'weights = "{weights}"\nend_frame = true\n'))
    engine = registry.video("kling-v1", image=True)
    assert engine.capabilities.end_frame
    entry = registry.catalog.get("kling-v1")
    assert entry.end_frame and entry.image2video and not entry.text2video  # no text weights
    tail_a, tail_b = picture(48, 32, 11), picture(48, 32, 12)
    a = list(engine.render(request(engine, image_tail=tail_a)))
    b = list(engine.render(request(engine, image_tail=tail_b)))
    assert not np.array_equal(a[-1], b[-1])  # the tail conditions the clip


def test_a_text_only_profile_takes_no_image(tiny_weights, tmp_path):
    text = profile(tiny_weights("wan"), "").split('[models."kling-v1".i2v]')[0]
    registry = registry_for(tmp_path, text)
    assert not registry.catalog.get("kling-v1").image2video
    with pytest.raises(EngineError, match="takes no image input"):
        registry.video("kling-v1", image=True)


def test_plain_i2v_weights_refuse_an_end_frame(tiny_weights, tmp_path):
    text = profile(None, f'weights = "{tiny_weights("wan-i2v")}"\nend_frame = true\n')
    with pytest.raises(ProfileError, match="takes a first frame only"):
        registry_for(tmp_path, text)


def test_ltx_image_to_video_from_the_same_weights(tiny_weights, tmp_path):
    weights = tiny_weights("ltx")
    text = profile(weights, f'weights = "{weights}"\n', family="ltx").replace(
        '[48, 32], "1:1" = [32, 32]', '[64, 32], "1:1" = [32, 32]'
    )
    registry = registry_for(tmp_path, text)
    engine = registry.video("kling-v1", image=True)
    assert engine.name == "diffusers-ltx-i2v"
    first = list(engine.render(request(engine, seed=5)))
    again = list(engine.render(request(engine, seed=5)))
    assert len(first) == engine.frame_plan(1)[0] and first[0].shape == (32, 64, 3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    other = list(engine.render(request(engine, seed=5, image=picture(64, 32, 9))))
    assert not np.array_equal(first[0], other[0])


def test_wan_2_2_image_to_video_takes_an_end_frame(tiny_weights, tmp_path):
    i2v = f'weights = "{tiny_weights("wan2.2-i2v")}"\nfamily = "wan2.2"\nend_frame = true\n'
    engine = registry_for(tmp_path, profile(None, i2v)).video("kling-v1", image=True)
    assert engine.name == "diffusers-wan2.2-i2v" and engine.capabilities.end_frame
    tail = picture(48, 32, 11)
    a = list(engine.render(request(engine, seed=6, image_tail=tail)))
    again = list(engine.render(request(engine, seed=6, image_tail=tail)))
    assert all(np.array_equal(x, y) for x, y in zip(a, again, strict=True))
    # the last frame reaches the pipeline: the clip is not the one made without it (this tiny
    # VAE encodes any picture to nearly the same latent, so two tails would look alike)
    without = list(engine.render(request(engine, seed=6)))
    assert not np.array_equal(a[-1], without[-1])


def test_cogvideox_image_to_video(tiny_weights, tmp_path):
    weights = tiny_weights("cogvideox-i2v")
    i2v = (
        f'weights = "{weights}"\nfamily = "cogvideox"\n'
        "pipeline_args = { max_sequence_length = 16 }\n"
    )
    registry = registry_for(tmp_path, profile(None, i2v))
    engine = registry.video("kling-v1", image=True)
    assert engine.name == "diffusers-cogvideox-i2v"
    assert engine.frame_plan(1)[0] == 9  # CogVideoX 1.0: 8k+1 frames
    first = list(engine.render(request(engine, seed=2)))
    again = list(engine.render(request(engine, seed=2)))
    assert len(first) == 9 and first[0].shape == (32, 48, 3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    other = list(engine.render(request(engine, seed=2, image=picture(48, 32, 9))))
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize(
    ("i2v", "message"),
    [
        ('family = "hunyuan"\nweights = "w"\n', "family = 'hunyuan'"),
        ('weights = "w"\nwhatever = 1\n', "unknown key"),
        ('family = "ltx"\nweights = "w"\nend_frame = true\n', "end_frame = true needs a Wan"),
        ('family = "ltx"\n', '"weights" is required'),
        ('weights = "w"\npipeline_args = { image = 1 }\n', "set by openkling"),
    ],
)
def test_i2v_tables_are_checked_strictly(tmp_path, i2v, message):
    path = tmp_path / "profiles.toml"
    path.write_text(profile("w", i2v))
    with pytest.raises(ProfileError, match=message):
        load_profiles(path)


def test_an_i2v_family_is_needed_when_the_model_family_has_none(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text(profile("w", 'weights = "w"\n', family="hunyuan"))
    with pytest.raises(ProfileError, match='"family" is required'):
        load_profiles(path)
    path.write_text(profile("w", 'weights = "w"\nfamily = "wan"\n', family="hunyuan"))
    catalog = build_catalog(Settings(profiles_file=path, data_dir=tmp_path / "data"))
    assert catalog.get("kling-v1").image2video
    path.write_text(profile("w", "", family="wan").split('[models."kling-v1".i2v]')[0])
    catalog = build_catalog(Settings(profiles_file=path, data_dir=tmp_path / "data"))
    assert not catalog.get("kling-v1").image2video
    assert "kling-v1" not in catalog.supporting("image2video")
