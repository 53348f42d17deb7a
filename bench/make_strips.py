"""Still strips for docs/camera.md: five frames of a synthetic clip through each camera path.

python bench/make_strips.py [--out docs/img] [--width 240] [--height 136]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from openkling.contract.kling import CameraConfig, CameraControl
from openkling.engines.base import RenderRequest
from openkling.engines.synthetic import SyntheticEngine
from openkling.worker.camera import plan_camera

PROMPT = "a lighthouse on a rocky coast at sunset"
SHOTS: dict[str, CameraControl] = {
    "horizontal": CameraControl(type="simple", config=CameraConfig(horizontal=8)),
    "vertical": CameraControl(type="simple", config=CameraConfig(vertical=8)),
    "zoom": CameraControl(type="simple", config=CameraConfig(zoom=8)),
    "pan": CameraControl(type="simple", config=CameraConfig(pan=8)),
    "tilt": CameraControl(type="simple", config=CameraConfig(tilt=8)),
    "roll": CameraControl(type="simple", config=CameraConfig(roll=8)),
    "down_back": CameraControl(type="down_back"),
    "forward_up": CameraControl(type="forward_up"),
    "right_turn_forward": CameraControl(type="right_turn_forward"),
    "left_turn_forward": CameraControl(type="left_turn_forward"),
}


def label(control: CameraControl) -> str:
    if control.config is None:
        return control.type
    axes = {k: v for k, v in control.config.model_dump().items() if v}
    return ", ".join(f"{k} = {v:g}" for k, v in axes.items())


def strip(control: CameraControl, width: int, height: int, count: int = 5) -> Image.Image:
    engine = SyntheticEngine()
    num_frames, fps = engine.frame_plan(5)
    path = plan_camera(control)
    scale = path.overscan_for(width, height)
    cw, ch = engine.canvas_size(math.ceil(width * scale), math.ceil(height * scale))
    request = RenderRequest(
        prompt=PROMPT,
        negative_prompt="",
        width=cw,
        height=ch,
        num_frames=num_frames,
        fps=fps,
        cfg_scale=0.6,
        seed=11,
    )
    frames = path.apply(
        engine.render(request), out_width=width, out_height=height, num_frames=num_frames
    )
    picks = {round(i * (num_frames - 1) / (count - 1)) for i in range(count)}
    chosen = [(i, f) for i, f in enumerate(frames) if i in picks]

    gap, header = 4, 20
    image = Image.new("RGB", (count * width + (count - 1) * gap, header + height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    draw.text((2, 3), f"{label(control)}   ({path.prompt_phrase})", font=font, fill="black")
    for n, (index, frame) in enumerate(chosen):
        x = n * (width + gap)
        image.paste(Image.fromarray(frame), (x, header))
        draw.text((x + 4, header + 3), f"{index / fps:.1f} s", font=font, fill="white")
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--width", type=int, default=240)
    parser.add_argument("--height", type=int, default=136)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, control in SHOTS.items():
        image = strip(control, args.width, args.height)
        target = args.out / f"camera-{name.replace('_', '-')}.png"
        # an adaptive palette keeps each strip small enough to commit
        image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            target, optimize=True
        )
        print(f"{target}  {target.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
