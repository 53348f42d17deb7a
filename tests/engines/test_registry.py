"""The engine registry: a worker builds (and checks the weights of) only its own models."""

from __future__ import annotations

import pytest

from openkling.config import Settings
from openkling.engines.profiles import ProfileError
from openkling.engines.registry import build_catalog, build_registry
from openkling.errors import EngineError

PROFILE = """
[models."kling-v1"]
engine = "diffusers"
family = "wan"
weights = "{missing}"

[models."kling-v2-6"]
engine = "synthetic"
prices = {{ std_5 = 12 }}
"""


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text(PROFILE.format(missing=tmp_path / "no-such-weights"))
    return Settings(profiles_file=path, data_dir=tmp_path / "data")


def test_missing_weights_fail_at_startup_for_a_host_serving_that_model(settings):
    with pytest.raises(ProfileError, match="no-such-weights"):
        build_registry(settings)
    with pytest.raises(ProfileError, match="no-such-weights"):
        build_registry(settings, models=["kling-v1"])


def test_a_worker_for_other_models_needs_no_such_weights(settings):
    registry = build_registry(settings, models=["kling-v2-6"])
    assert registry.video("kling-v2-6").name == "synthetic"
    with pytest.raises(EngineError, match="not served by this worker"):
        registry.video("kling-v1")
    # the catalog (prices, audio) is the whole profile's, as on the API hosts
    assert registry.catalog.models["kling-v2-6"].price("std", 5) == 12
    assert build_catalog(settings).models["kling-v2-6"].price("std", 5) == 12
