"""The worker's image path: a task that makes still pictures (/v1/images/generations).

Its steps: 1. the size from resolution and aspect ratio; 2. the reference image, fitted to
that size; 3. each of the ``n`` pictures in order, with its own seed, encoded (PNG) as soon
as it is made; 4. all of them stored once the last is made (a run stopped halfway leaves no
files); 5. the result, pictures in index order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import cv2
import numpy as np

from ..domain.request import GenerationRequest
from ..domain.result import ImageResult, TaskResult
from ..engines.base import PictureEngine, PictureRequest, StopCheck
from ..errors import EngineError, GenerationCancelled
from ..storage.base import Storage
from .inputs import _picture
from .plan import SEED_STRIDE

log = logging.getLogger(__name__)

Report = Callable[[int], None]  # progress 0..100


def picture_size(request: GenerationRequest, engine: PictureEngine) -> tuple[int, int]:
    resolution, ratio = request.resolution or "1k", request.aspect_ratio or "16:9"
    try:
        return engine.size(resolution, ratio)
    except KeyError:
        raise EngineError(f"{engine.name}: no picture size for {resolution}, {ratio}") from None


def picture_seed(seed: int, index: int) -> int:
    """Picture ``index`` of a task draws with its own seed: the task's, stepped per picture."""
    return (seed + index * SEED_STRIDE) % 2**31


def encode_png(picture: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    if not ok:
        raise EngineError("could not encode the picture as PNG")
    return data.tobytes()


def make_pictures(
    *,
    task_id: str,
    attempt: int,
    request: GenerationRequest,
    seed: int,
    engine: PictureEngine,
    storage: Storage,
    report: Report,
    should_stop: StopCheck,
) -> TaskResult:
    """Make, store and describe the ``request.n`` pictures of one task."""
    # 1. size
    width, height = picture_size(request, engine)
    # 2. reference
    reference = None
    if request.image is not None:
        if not engine.reference:
            raise EngineError(
                f"the {engine.name} engine of {request.model_name} takes no reference image"
            )
        reference = _picture(storage, request.image, width, height)
    log.info(
        "task %s: %d picture(s) %dx%d on %s%s, seed %d",
        task_id,
        request.n,
        width,
        height,
        engine.name,
        " from a reference" if reference is not None else "",
        seed,
    )
    encoded: list[bytes] = []
    for index in range(request.n):

        def on_step(done: int, total: int, index: int = index) -> None:
            share = (index + done / max(total, 1)) / request.n
            report(min(95, int(95 * share)))

        # 3. draw
        picture = engine.draw(
            PictureRequest(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt,
                width=width,
                height=height,
                seed=picture_seed(seed, index),
                index=index,
                reference=reference,
                reference_kind=request.image_reference,
                image_fidelity=request.image_fidelity,
                human_fidelity=request.human_fidelity,
            ),
            on_step=on_step,
            should_stop=should_stop,
        )
        if picture.shape != (height, width, 3) or picture.dtype != np.uint8:
            raise EngineError(
                f"{engine.name} made a picture of {picture.shape} {picture.dtype}, "
                f"expected ({height}, {width}, 3) uint8"
            )
        encoded.append(encode_png(picture))
        report(min(95, int(95 * (index + 1) / request.n)))
        if should_stop():
            raise GenerationCancelled(f"stopped after picture {index + 1} of {request.n}")
    # 4. store
    images: list[ImageResult] = []
    try:
        for index, data in enumerate(encoded):
            key = f"images/{task_id}-{attempt}-{index}.png"
            storage.put_bytes(key, data, "image/png")
            images.append(
                ImageResult(index=index, key=key, width=width, height=height, engine=engine.name)
            )
    except BaseException:
        for image in images:  # what was stored of a task that will not succeed
            try:
                storage.delete(image.key)
            except Exception:
                log.exception("task %s: could not remove %s", task_id, image.key)
        raise
    # 5. the result
    return TaskResult(images=images, seed=seed)
