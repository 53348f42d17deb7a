"""The real configs of every model the GPU guide names: full-size parameter counts (built on
the ``meta`` device) against the guide's table and the published sizes, and every profile
size x 5 s / 10 s x text / image request checked against what each model's real layout can
render (one pass, segments, or refused at create)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

import real_configs  # noqa: E402

from openkling.config import Settings  # noqa: E402
from openkling.engines.base import RenderRequest  # noqa: E402
from openkling.engines.diffusers.engine import segment_lengths  # noqa: E402
from openkling.engines.registry import build_catalog, build_registry  # noqa: E402

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "gpu-deployment.md"
# published sizes (billions of parameters) of the denoisers and text encoders
PUBLISHED = {
    "wan2.1-t2v-1.3b": ("transformer", 1.3, 1.5),
    "wan2.1-t2v-14b": ("transformer", 13.5, 15.0),
    "wan2.2-t2v-a14b": ("transformer_2", 13.5, 15.0),
    "wan2.2-ti2v-5b": ("transformer", 4.8, 5.2),
    "ltx-video-0.9.1": ("transformer", 1.8, 2.1),
    "ltx-video-0.9.7-dev": ("transformer", 12.5, 13.5),
    "cogvideox-2b": ("transformer", 1.6, 1.8),
    "cogvideox-5b": ("transformer", 5.3, 5.8),
    "hunyuanvideo": ("transformer", 12.5, 13.2),
}
TEXT = {"UMT5EncoderModel": (5.5, 5.8), "T5EncoderModel": (4.6, 4.9)}


@functools.cache
def counts(name: str) -> dict[str, int]:
    return real_configs.counts(name)


def test_every_documented_model_has_a_config_and_the_guide_table_comes_from_them():
    guide = GUIDE.read_text()
    documented_repos = (
        *("Wan2.1-T2V-1.3B", "Wan2.1-T2V-14B", "Wan2.2-T2V-A14B", "Wan2.2-TI2V-5B"),
        *("Lightricks/LTX-Video", "CogVideoX-5b-I2V", "CogVideoX1.5-5B", "HunyuanVideo"),
    )
    for repo in documented_repos:
        assert repo in guide
        assert any(repo in real_configs.load(n)["repo"] for n in real_configs.names()), repo
    begin, end = "<!-- parameter-table:begin -->\n", "\n<!-- parameter-table:end -->"
    documented = guide[guide.index(begin) + len(begin) : guide.index(end)]
    assert documented == real_configs.table()


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_full_size_parameters_match_the_published_sizes(name):
    part, low, high = PUBLISHED[name]
    assert low <= counts(name)[part] / 1e9 <= high
    config = real_configs.load(name)["components"]["text_encoder"]
    if config["_class_name"] in TEXT:
        lo, hi = TEXT[config["_class_name"]]
        assert lo <= counts(name)["text_encoder"] / 1e9 <= hi


def lay_out(root: Path, name: str) -> Path:
    """A pipeline folder with the real configs and empty weight files: enough for startup."""
    doc = real_configs.load(name)
    folder = root / name
    index = {"_class_name": doc["pipeline"], **doc["model_index"]}
    for part, config in doc["components"].items():
        (folder / part).mkdir(parents=True)
        (folder / part / "config.json").write_text(json.dumps(config))
        (folder / part / "model.safetensors").write_bytes(b"")
        index[part] = ["diffusers", config["_class_name"]]
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def profile_for(name: str, weights: Path) -> str:
    family = real_configs.load(name)["family"]
    head = '[models."kling-v1"]\nengine = "diffusers"\ndevice = "cpu"\n'
    if not family.endswith("-i2v"):
        return head + f'family = "{family}"\nweights = "{weights}"\n'
    family = family.removesuffix("-i2v")
    end = "end_frame = true\n" if "flf2v" in name or "a14b" in name else ""
    return head + f'family = "{family}"\n[models."kling-v1".i2v]\nweights = "{weights}"\n{end}'


@pytest.mark.parametrize("name", real_configs.names())
def test_every_profile_size_and_length_is_served_or_refused_at_create(name, tmp_path):
    """Sizes by mode and ratio, 5 s and 10 s, text or image: each planned request passes the
    engine's checks in one pass or in segments, or its duration is refused at create. (The
    model is not run at these sizes: real sizes on the CPU take minutes per clip.)"""
    path = tmp_path / "profiles.toml"
    path.write_text(profile_for(name, lay_out(tmp_path, name)))
    settings = Settings(profiles_file=path, data_dir=tmp_path / "data")
    registry = build_registry(settings)
    catalog = build_catalog(settings)
    image = real_configs.load(name)["family"].endswith("-i2v")
    engine = registry.video("kling-v1", image=image)
    checked = 0
    for mode in ("std", "pro"):
        for ratio in ("16:9", "9:16", "1:1"):
            width, height = engine.canvas_size(*engine.output_size(mode, ratio))
            for seconds in (5, 10):
                frames, fps = engine.frame_plan(seconds)
                if seconds not in catalog.get("kling-v1").durations:
                    assert not engine.longest(frames)  # refused at create, and by the engine
                    continue
                longest = engine.max_frames or frames
                parts = segment_lengths(frames, longest, longest, engine.layout.frame_step)
                assert len(parts) == 1 or engine.longest(frames)
                for length in parts:
                    engine._check(RenderRequest("a", "", width, height, length, fps, 0.5, 1))
                    checked += 1
    assert checked >= 6


def test_cogvideox_5b_i2v_real_layout_takes_its_native_size_and_nothing_else():
    """The real CogVideoX-5b-I2V config, depth and width shrunk but every structural flag
    kept (learned positions at 60x90 latents, 49 frames, 226 text tokens, 32 input channels):
    its transformer runs at 720x480 x 49 frames and raises at 480x720, which is why the
    engine serves every ratio at 720x480 and refuses other sizes at startup."""
    import torch

    config = dict(real_configs.load("cogvideox-5b-i2v")["components"]["transformer"])
    config.update(num_layers=1, num_attention_heads=2, attention_head_dim=8, time_embed_dim=8,
                  text_embed_dim=16)  # fmt: skip
    from diffusers import CogVideoXTransformer3DModel

    config.pop("_class_name")
    model = CogVideoXTransformer3DModel.from_config(config).eval()
    text = torch.zeros(1, 226, 16)
    with torch.no_grad():
        out = model(torch.zeros(1, 13, 32, 60, 90), text, torch.tensor([500])).sample
        assert out.shape == (1, 13, 16, 60, 90)
        with pytest.raises(ValueError, match="different resolution"):
            model(torch.zeros(1, 13, 32, 90, 60), text, torch.tensor([500]))
