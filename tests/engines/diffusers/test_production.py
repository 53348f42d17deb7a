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
from openkling.engines.registry import build_registry  # noqa: E402

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
