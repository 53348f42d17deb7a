"""A deployment profile maps Kling's 2026 model names to engines as it maps the legacy ones,
and narrows what the 2026 endpoints offer to what the engine can honour."""

from __future__ import annotations

from openkling.config import Settings
from openkling.engines.registry import build_catalog, build_registry

PROFILE = """
[models."kling-3.0"]
engine = "synthetic"
prices = {{ std_5 = 12 }}

[models."kling-3.0-omni"]
engine = "diffusers"
family = "wan"
weights = "{weights}"
"""


def test_2026_names_are_served_priced_and_narrowed_by_the_profile(tmp_path):
    (tmp_path / "weights").mkdir()
    path = tmp_path / "profiles.toml"
    path.write_text(PROFILE.format(weights=tmp_path / "weights"))
    settings = Settings(profiles_file=path, data_dir=tmp_path / "data")

    registry = build_registry(settings, models=["kling-3.0"])
    assert registry.video("kling-3.0").name == "synthetic"
    assert registry.catalog.models["kling-3.0"].price("std", 5) == 12

    catalog = build_catalog(settings)
    omni = catalog.models["kling-3.0-omni"]
    # no diffusers family here takes reference images: the endpoint refuses them up front
    assert omni.endpoints == ("omni-video",) and omni.references is False
    assert catalog.models["kling-o1"].references is True  # still the synthetic engine
    assert "kling-3.0" not in catalog.supporting("text2video")  # not a legacy model_name
