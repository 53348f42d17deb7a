"""The synthetic engine's image path, in-process: first frame, end frame, still and moving masks."""

from __future__ import annotations

import numpy as np
import pytest

from openkling.engines.base import RenderRequest
from openkling.engines.synthetic import SyntheticEngine
from openkling.errors import GenerationCancelled
from pictures import gradient, psnr

W, H, N = 160, 96, 24
PICTURE = slice(0, H * 3 // 4)  # above the caption strip, which fades in and out


def picture(frame: np.ndarray) -> np.ndarray:
    return frame[PICTURE]


def render(**images) -> list[np.ndarray]:
    request = RenderRequest(
        prompt="",
        negative_prompt="",
        width=W,
        height=H,
        num_frames=N,
        fps=24,
        cfg_scale=0.5,
        seed=1,
        **images,
    )
    return list(SyntheticEngine().render(request))


def test_the_first_frame_is_the_image_and_then_it_moves():
    image = gradient(W, H, seed=1)
    frames = render(image=image)
    assert len(frames) == N and all(f.shape == (H, W, 3) for f in frames)
    assert np.array_equal(frames[0], image)
    near, far = psnr(picture(frames[1]), picture(image)), psnr(picture(frames[-1]), picture(image))
    assert near > 30  # gentle: neighbouring frames stay close
    assert far < near - 8  # ... but it does move


def test_the_tail_is_reached_smoothly_and_is_the_last_frame():
    image, tail = gradient(W, H, seed=1), gradient(W, H, seed=2)
    frames = render(image=image, image_tail=tail)
    assert np.array_equal(frames[0], image) and np.array_equal(frames[-1], tail)
    distance = [psnr(picture(f), picture(tail)) for f in frames]
    assert all(b >= a - 0.5 for a, b in zip(distance, distance[1:], strict=False))  # nearer
    jumps = [
        float(np.abs(picture(a).astype(int) - picture(b).astype(int)).mean())
        for a, b in zip(frames, frames[1:], strict=False)
    ]
    assert max(jumps) < 4 * (sum(jumps) / len(jumps))  # no cut: the change is spread out


def test_only_a_tail_arrives_at_it():
    tail = gradient(W, H, seed=2)
    frames = render(image_tail=tail)
    assert np.array_equal(frames[-1], tail)
    assert psnr(frames[0], tail) < 40


def test_static_mask_pixels_stay_still():
    image = gradient(W, H, seed=3)
    still = np.zeros((H, W), bool)
    still[10:50, 20:90] = True
    frames = render(image=image, static_mask=still)
    for frame in frames:
        assert np.array_equal(frame[still], image[still])
    assert not np.array_equal(frames[-1][~still], image[~still])


def test_a_dynamic_region_travels_along_its_trajectory():
    image = np.full((H, W, 3), 200, np.uint8)
    image[20:36, 20:36] = (220, 30, 30)  # a red square, centre (27.5, 27.5)
    region = np.zeros((H, W), bool)
    region[18:38, 18:38] = True
    path = [(27.5, 27.5), (127.5, 27.5), (127.5, 67.5)]  # right 100 px, then down 40 px
    frames = render(image=image, dynamic_masks=[(region, path)])
    for index in (0, N // 3, N // 2, N - 1):
        red = (frames[index][:, :, 0] > 180) & (frames[index][:, :, 1] < 90)
        ys, xs = np.nonzero(red)
        t = index / (N - 1)
        along = 140 * t  # the path is 140 px long
        want = (27.5 + min(along, 100), 27.5 + max(0.0, along - 100))
        assert abs(xs.mean() - want[0]) < 2 and abs(ys.mean() - want[1]) < 2, (index, want)


def test_cancel_stops_at_the_next_frame():
    request = RenderRequest("", "", W, H, N, 24, 0.5, 1, image=gradient(W, H))
    calls = iter([False, False, True])
    with pytest.raises(GenerationCancelled):
        list(SyntheticEngine().render(request, should_stop=lambda: next(calls)))


def caption_rows(frames: list[np.ndarray]) -> np.ndarray:
    return frames[N // 2][H * 3 // 4 :]


def test_the_prompt_and_the_seed_make_the_video():
    image = gradient(W, H, seed=1)

    def clip(prompt: str, seed: int) -> list[np.ndarray]:
        request = RenderRequest(
            prompt=prompt,
            negative_prompt="",
            width=W,
            height=H,
            num_frames=N,
            fps=24,
            cfg_scale=0.5,
            seed=seed,
            image=image,
        )
        return list(SyntheticEngine().render(request))

    first = clip("a boat drifts", 7)
    same = clip("a boat drifts", 7)
    assert all(np.array_equal(a, b) for a, b in zip(first, same, strict=True))
    other_seed = clip("a boat drifts", 8)
    # another seed, another motion: the picture itself moves differently
    moved = np.abs(picture(first[-1]).astype(int) - picture(other_seed[-1]).astype(int))
    assert moved.mean() > 0.5, moved.mean()
    # the caption says the prompt: another prompt, other caption pixels
    other_prompt = clip("a train departs", 7)
    assert not np.array_equal(caption_rows(first), caption_rows(other_prompt))
    assert np.array_equal(first[0], image) and np.array_equal(other_seed[0], image)
