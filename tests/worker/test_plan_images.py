"""Planning image inputs: the output takes the image's aspect, and inputs an engine cannot
honour are refused (check_inputs, before a run starts), never ignored."""

from __future__ import annotations

import pytest

from openkling.domain.request import DynamicMask, GenerationRequest, ImageInput, Point
from openkling.engines.base import Capabilities
from openkling.errors import EngineError
from openkling.worker.plan import check_inputs, plan_render

from .fakes import ScriptedEngine


def image(width: int, height: int, name: str = "image") -> ImageInput:
    return ImageInput(key=f"inputs/x/{name}.png", width=width, height=height)


class ImageEngine(ScriptedEngine):
    capabilities = Capabilities(image_input=True)


class FullEngine(ScriptedEngine):
    capabilities = Capabilities(image_input=True, end_frame=True, masks=True)


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [(1280, 720, (64, 36)), (720, 1280, (36, 64)), (500, 480, (48, 48)), (1000, 700, (64, 36))],
)
def test_the_output_takes_the_aspect_nearest_the_image(width, height, size):
    req = GenerationRequest(aspect_ratio=None, image=image(width, height))
    plan = plan_render(req, ImageEngine(), seed=1)
    assert (plan.width, plan.height) == size


def test_inputs_the_engine_cannot_honour_are_refused():
    still = image(400, 400, "mask")
    moving = DynamicMask(mask=still, trajectory=[Point(x=1, y=1), Point(x=5, y=5)])
    first = image(400, 400)
    with_tail = GenerationRequest(aspect_ratio=None, image=first, image_tail=image(400, 400))
    masked = GenerationRequest(aspect_ratio=None, image=first, static_mask=still)
    moved = GenerationRequest(aspect_ratio=None, image=first, dynamic_masks=[moving])
    plain = GenerationRequest(aspect_ratio=None, image=first)
    with pytest.raises(EngineError, match="cannot honour an input image"):
        check_inputs(plain, ScriptedEngine())
    check_inputs(plain, ImageEngine())
    for req, what in ((with_tail, "an end frame"), (masked, "masks"), (moved, "masks")):
        with pytest.raises(EngineError, match=f"cannot honour {what}"):
            check_inputs(req, ImageEngine())
        check_inputs(req, FullEngine())  # an engine that can takes them
