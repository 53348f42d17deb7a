"""Fixtures for the diffusers engine tests: tiny pipelines on disk and profile files."""

from __future__ import annotations

from pathlib import Path

import pytest

from openkling.config import Settings


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """Build one tiny pipeline per family on first use; the same folder for the whole session."""
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    import tiny

    root = tmp_path_factory.mktemp("weights")
    builders = {
        "wan": tiny.build_wan,
        "wan2.2": lambda path: tiny.build_wan(path, two_stage=True),
        "ltx": tiny.build_ltx,
        "wan-i2v": tiny.build_wan_i2v,
        "wan-vace": tiny.build_wan_vace,
        "wan-flf2v": lambda path: tiny.build_wan_i2v(path, first_last=True),
        "cogvideox-i2v": tiny.build_cogvideox_i2v,
        "cogvideox-5b-i2v": lambda path: tiny.build_cogvideox_i2v(path, learned=True),
        "wan-lora": lambda path: tiny.build_wan_lora(path, get("wan")),
        "wan2.2-ti2v": tiny.build_wan_ti2v,
        "cogvideox": tiny.build_cogvideox,
        "cogvideox-1.5": lambda path: tiny.build_cogvideox(path, v1_5=True),
        "hunyuan": tiny.build_hunyuan,
        "wan2.2-i2v": tiny.build_wan22_i2v,
        "stable-audio": tiny.build_stable_audio,
        "flux": tiny.build_flux,
        "sd3": tiny.build_sd3,
    }
    built: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in built:
            built[kind] = builders[kind](root / kind.replace(".", "_").replace("-", "_"))
        return built[kind]

    return get


@pytest.fixture
def profile_settings(tmp_path):
    """``profile_settings(toml_text)`` -> Settings whose profiles_file holds that text."""

    def make(text: str) -> Settings:
        path = tmp_path / "profiles.toml"
        path.write_text(text)
        return Settings(profiles_file=path, data_dir=tmp_path / "data")

    return make
