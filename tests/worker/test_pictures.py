"""The worker's image path on the synthetic picture engine: sizes, seeds, the reference drawn
at its fidelity, progress, and a stopped run leaving no files."""

from __future__ import annotations

import numpy as np
import pytest

from openkling.domain.image_catalog import IMAGE_SIZES, exact_ratio
from openkling.domain.request import GenerationRequest, ImageInput
from openkling.engines.base import PictureRequest
from openkling.engines.synthetic_picture import SyntheticPictureEngine
from openkling.errors import EngineError, GenerationCancelled
from openkling.storage.local import LocalStorage
from openkling.worker.pictures import make_pictures
from pictures import encode, gradient, resize


def test_every_size_is_the_exact_ratio_on_a_16_pixel_grid():
    for resolution, ratios in IMAGE_SIZES.items():
        for ratio, (width, height) in ratios.items():
            assert exact_ratio(width, height, ratio), (resolution, ratio)
            assert width % 16 == 0 and height % 16 == 0


def test_synthetic_pictures_differ_by_seed_and_carry_the_reference():
    engine = SyntheticPictureEngine()
    ask = PictureRequest("a lantern", "", 320, 180, seed=1)
    one, same = engine.draw(ask), engine.draw(ask)
    assert one.shape == (180, 320, 3) and np.array_equal(one, same)
    other = engine.draw(PictureRequest("a lantern", "", 320, 180, seed=2))
    assert np.abs(one.astype(int) - other).mean() > 10

    reference = resize(gradient(640, 360, seed=5), 320, 180)
    kept = engine.draw(
        PictureRequest("a lantern", "", 320, 180, 1, reference=reference, image_fidelity=1.0)
    )
    loose = engine.draw(
        PictureRequest("a lantern", "", 320, 180, 1, reference=reference, image_fidelity=0.3)
    )
    top = slice(40, 110)  # between the number and the prompt's band
    assert np.abs(kept[top].astype(int) - reference[top]).mean() < 2
    assert np.abs(loose[top].astype(int) - reference[top]).mean() > 10
    # the prompt is written: the band differs from the reference it covers
    assert np.abs(kept[-20:].astype(int) - reference[-20:]).mean() > 20


def request(**kw) -> GenerationRequest:
    return GenerationRequest(
        prompt="three boats", output="image", aspect_ratio="2:3", resolution="1k", **kw
    )


def test_make_pictures_stores_n_pngs_in_order_and_reports_progress(tmp_path):
    storage = LocalStorage(tmp_path / "media", b"k" * 32)
    progress: list[int] = []
    result = make_pictures(
        task_id="t1",
        attempt=1,
        request=request(n=3),
        seed=7,
        engine=SyntheticPictureEngine(),
        storage=storage,
        report=progress.append,
        should_stop=lambda: False,
    )
    assert [image.index for image in result.images] == [0, 1, 2]
    assert {(i.width, i.height) for i in result.images} == {(832, 1248)}
    assert all(storage.read(i.key).startswith(b"\x89PNG") for i in result.images)
    assert progress == sorted(progress) and progress[-1] == 95
    assert result.keys() == [i.key for i in result.images]


def test_a_reference_is_read_from_storage_and_fitted(tmp_path):
    storage = LocalStorage(tmp_path / "media", b"k" * 32)
    picture = gradient(400, 600, seed=3)
    storage.put_bytes("inputs/x/image.png", encode(picture), "image/png")
    reference = ImageInput(key="inputs/x/image.png", width=400, height=600)
    result = make_pictures(
        task_id="t2",
        attempt=1,
        request=request(image=reference, image_fidelity=1.0),
        seed=1,
        engine=SyntheticPictureEngine(),
        storage=storage,
        report=lambda p: None,
        should_stop=lambda: False,
    )
    import io

    from PIL import Image

    made = np.asarray(Image.open(io.BytesIO(storage.read(result.images[0].key))).convert("RGB"))
    assert np.abs(made[200:700].astype(int) - resize(picture, 832, 1248)[200:700]).mean() < 3


def test_a_stopped_run_stores_nothing_and_an_engine_without_references_refuses(tmp_path):
    storage = LocalStorage(tmp_path / "media", b"k" * 32)
    calls = iter([False, False, True])  # stop after the first picture
    with pytest.raises(GenerationCancelled):
        make_pictures(
            task_id="t3",
            attempt=1,
            request=request(n=3),
            seed=1,
            engine=SyntheticPictureEngine(),
            storage=storage,
            report=lambda p: None,
            should_stop=lambda: next(calls, True),
        )
    assert not (tmp_path / "media" / "images").exists()

    engine = SyntheticPictureEngine()
    engine.reference = False
    reference = ImageInput(key="inputs/none.png", width=400, height=400)
    with pytest.raises(EngineError, match="takes no reference image"):
        make_pictures(
            task_id="t4",
            attempt=1,
            request=request(image=reference),
            seed=1,
            engine=engine,
            storage=storage,
            report=lambda p: None,
            should_stop=lambda: False,
        )
