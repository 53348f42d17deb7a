"""Text-to-image and image-to-image through tiny random Flux and SD3 pipelines, built in-process,
saved like real weights and loaded through a profile's [images."<model>"] table."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from openkling.config import Settings  # noqa: E402
from openkling.engines.base import PictureRequest  # noqa: E402
from openkling.engines.profiles import ProfileError, load_profiles  # noqa: E402
from openkling.engines.registry import build_catalog, build_registry  # noqa: E402

SIZES = 'resolution = { "1k" = { "16:9" = [256, 144], "1:1" = [32, 32], "3:4" = [48, 64] } }'


def profile(weights, family: str, model: str = "kling-v2-1", extra: str = "") -> str:
    return (
        f'[images."{model}"]\nengine = "diffusers"\nfamily = "{family}"\nweights = "{weights}"\n'
        f'device = "cpu"\ndtype = "float32"\nsteps = 4\nmax_sequence_length = 32\n{SIZES}\n'
        f"{extra}"
    )


def settings_for(tmp_path, text: str) -> Settings:
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    return Settings(profiles_file=path, data_dir=tmp_path / "data")


def reference(width: int, height: int, colour: tuple[int, int, int]) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = colour
    image[: height // 2, : width // 2] = 255 - np.array(colour, np.uint8)  # a corner of contrast
    return image


@pytest.fixture(scope="module", params=["flux", "sd3"])
def engine(request, tiny_weights, tmp_path_factory):
    family = request.param
    tmp = tmp_path_factory.mktemp(f"pictures-{family}")
    registry = build_registry(settings_for(tmp, profile(tiny_weights(family), family)))
    return registry.picture("kling-v2-1")


def ask(engine, ratio: str = "1:1", seed: int = 1, **kw) -> PictureRequest:
    width, height = engine.size("1k", ratio)
    return PictureRequest("a red fox on the beach", "blur", width, height, seed, **kw)


def test_text_to_image_makes_one_picture_of_the_exact_size(engine):
    assert engine.name in ("diffusers-flux", "diffusers-sd3") and engine.reference
    steps = []
    for ratio, size in (("16:9", (256, 144)), ("3:4", (48, 64))):
        picture = engine.draw(ask(engine, ratio), on_step=lambda d, t: steps.append((d, t)))
        assert picture.dtype == np.uint8 and picture.shape == (size[1], size[0], 3)
        assert picture.std() > 0  # not a blank canvas
    assert steps[-1] == (4, 4)


def test_a_seed_gives_the_same_picture_and_another_seed_another(engine):
    one, again = engine.draw(ask(engine, seed=5)), engine.draw(ask(engine, seed=5))
    other = engine.draw(ask(engine, seed=6))
    assert np.array_equal(one, again)
    assert not np.array_equal(one, other)


def test_a_reference_goes_through_image_to_image_at_image_fidelity(engine, monkeypatch):
    width, height = engine.size("1k", "1:1")
    red, blue = reference(width, height, (220, 30, 30)), reference(width, height, (30, 30, 220))
    text_only = engine.draw(ask(engine, seed=3))
    from_red = engine.draw(ask(engine, seed=3, reference=red, image_fidelity=0.5))
    from_blue = engine.draw(ask(engine, seed=3, reference=blue, image_fidelity=0.5))
    assert from_red.shape == (height, width, 3)
    assert not np.array_equal(from_red, text_only)  # the reference changes the picture ...
    assert not np.array_equal(from_red, from_blue)  # ... and which reference matters

    # the image-to-image pipeline of the family runs, at strength 1 - image_fidelity
    import diffusers

    calls = []
    cls = getattr(diffusers, engine.family.img2img)
    original = cls.__call__

    def spy(self, *args, **kwargs):
        calls.append((type(self).__name__, kwargs["strength"], kwargs["image"].size))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__call__", spy)
    engine.draw(ask(engine, seed=3, reference=red, image_fidelity=0.25))
    engine.draw(ask(engine, seed=3, reference=red, image_fidelity=1.0))
    assert calls[0] == (engine.family.img2img, 0.75, (width, height))
    assert calls[1][1] == pytest.approx(0.25, abs=1e-3)  # fidelity 1: one step's worth of 4


def test_profile_checks_weights_family_and_sizes(tiny_weights, tmp_path):
    flux = tiny_weights("flux")
    with pytest.raises(ProfileError, match="not StableDiffusion3Pipeline"):
        build_registry(settings_for(tmp_path, profile(flux, "sd3")))
    bad_ratio = profile(flux, "flux").replace("[256, 144]", "[256, 160]")
    with pytest.raises(ProfileError, match='"16:9" = \\[256, 160\\] is not exactly 16:9'):
        load_profiles(settings_for(tmp_path, bad_ratio).profiles_file)
    off_grid = profile(flux, "flux").replace("[32, 32]", "[40, 40]")
    with pytest.raises(ProfileError, match="multiples of 16"):
        build_registry(settings_for(tmp_path, off_grid))
    with pytest.raises(ProfileError, match="unknown Kling image model name"):
        text = profile(flux, "flux", model="kling-v2-6")
        load_profiles(settings_for(tmp_path, text).profiles_file)


def test_catalog_follows_the_profile(tiny_weights, tmp_path):
    text = profile(tiny_weights("flux"), "flux", extra="img2img = false\nprices = { text = 2 }\n")
    catalog = build_catalog(settings_for(tmp_path, text))
    entry = catalog.images["kling-v2-1"]
    assert (entry.text_price, entry.reference_price, entry.reference) == (2.0, 8.0, False)
    assert catalog.images["kling-v3"].reference  # the others: synthetic, references welcome
