"""Stage timings of a run: how long render, camera, audio, encode, watermark and store took."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

import numpy as np

STAGES = ("inputs", "render", "camera", "audio", "encode", "watermark", "store")


class WorkerObserver(Protocol):
    """Told of each stage's time once a run's video is stored (metrics plug in here)."""

    def stage(self, model: str, stage: str, seconds: float) -> None: ...


class NullObserver:
    def stage(self, model: str, stage: str, seconds: float) -> None:
        pass


class StageClock:
    """Adds up the time of each stage. Frames flow lazily (render -> camera -> encode), so
    a stage's own time is its iterator's time less the time of the iterator it pulls from."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def frames(self, name: str, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Time spent producing ``frames`` (inclusive of whatever feeds them)."""
        iterator = iter(frames)
        while True:
            start = time.perf_counter()
            try:
                frame = next(iterator)
            except StopIteration:
                self.seconds[name] += time.perf_counter() - start
                return
            self.seconds[name] += time.perf_counter() - start
            yield frame

    def exclusive(self) -> dict[str, float]:
        """Per-stage time with the nested frame stages taken apart."""
        own = dict(self.seconds)
        render, camera = own["render"], own["camera"]
        own["camera"] = max(0.0, camera - render)
        own["encode"] = max(0.0, own["encode"] - camera)
        return own

    def report(self, observer: WorkerObserver, model: str) -> None:
        for name, seconds in self.exclusive().items():
            if seconds > 0:
                observer.stage(model, name, seconds)
