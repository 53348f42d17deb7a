"""The diffusers engine times each denoising step into openkling_denoise_step_seconds."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from prometheus_client import REGISTRY  # noqa: E402

from openkling.engines.base import RenderRequest  # noqa: E402
from openkling.engines.registry import build_registry  # noqa: E402


def test_each_denoising_step_is_timed(tiny_weights, profile_settings):
    settings = profile_settings(
        f'[models."kling-v1-5"]\nengine = "diffusers"\nfamily = "wan"\n'
        f'weights = "{tiny_weights("wan")}"\ndevice = "cpu"\ndtype = "float32"\nsteps = 4\n'
        f'fps = 4\n[models."kling-v1-5".resolution]\nstd = {{"16:9" = [48, 32]}}\n'
    )
    engine = build_registry(settings).video("kling-v1-5")
    labels = {"model": "kling-v1-5"}

    def sample(suffix: str) -> float:
        return REGISTRY.get_sample_value(f"openkling_denoise_step_seconds_{suffix}", labels) or 0

    count, total = sample("count"), sample("sum")
    steps = []
    engine.render(
        RenderRequest("a red fox", "", 48, 32, 5, 4.0, 0.5, 1),
        on_step=lambda done, of: steps.append((done, of)),
    )
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]  # progress still reaches the worker
    # steps 2..4 are timed from the end of the one before (step 1 includes prompt encoding)
    assert sample("count") - count == 3
    assert 0 < sample("sum") - total < 60
