"""Engines for tests: a scripted one that renders flat frames, and a gated one whose render
waits on an event the test controls (a task that stays ``processing`` as long as a test needs,
without a big render)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np

from openkling.engines.base import Capabilities, RenderRequest
from openkling.errors import GenerationCancelled


class ScriptedEngine:
    """Renders flat frames whose grey level is the frame index; ``script(index)`` runs before
    each frame (raise, cancel, steal the lease ...)."""

    name = "scripted"
    capabilities = Capabilities()

    def __init__(self, script: Callable[[int, RenderRequest], None] | None = None) -> None:
        self.script = script
        self.requests: list[RenderRequest] = []

    def output_size(self, mode: str, aspect_ratio: str) -> tuple[int, int]:
        return {"16:9": (64, 36), "9:16": (36, 64), "1:1": (48, 48)}[aspect_ratio]

    def frame_plan(self, duration_s: float) -> tuple[int, float]:
        return int(duration_s * 4) + 1, 4.0  # a "4k+1" rule at 4 fps

    def canvas_size(self, width: int, height: int) -> tuple[int, int]:
        return width + width % 2, height + height % 2

    def render(self, request: RenderRequest, *, on_step=None, should_stop=None) -> Iterator:
        self.requests.append(request)

        def frames():
            for index in range(request.num_frames):
                if should_stop is not None and should_stop():
                    raise GenerationCancelled(f"stopped at frame {index}")
                if self.script is not None:
                    self.script(index, request)
                if on_step is not None:
                    on_step(index + 1, request.num_frames)
                level = (index * 8 + request.seed) % 256
                yield np.full((request.height, request.width, 3), level, np.uint8)

        return frames()


class GatedEngine:
    """An engine whose renders stop before a share ``at`` of their frames (a fraction below 1,
    default half; or a frame index) until ``release()``, or until ``advance(at)`` moves the
    gate on. It renders with ``inner`` (default: the engine it replaces in an ``AppServer``,
    else a ScriptedEngine).

    ``started`` is set once a render reaches the gate: the task is then ``processing``, its
    progress part way. A cancel or a lost lease still stops it (``should_stop`` is polled while
    it waits). ``release()`` lets every render, present and future, run to the end.
    """

    def __init__(self, inner: object | None = None, at: float = 0.5) -> None:
        self.inner = inner
        self.at = at
        self.started = threading.Event()
        self.gate = threading.Event()
        self.renders = 0
        self._moved = threading.Condition()

    def bind(self, default: object) -> None:
        """Render with ``default`` unless an inner engine was given."""
        if self.inner is None:
            self.inner = default

    def __getattr__(self, name: str):  # name, capabilities, sizes: the inner engine's
        if self.__dict__.get("inner") is None:
            self.inner = ScriptedEngine()
        return getattr(self.inner, name)

    def release(self) -> None:
        self.gate.set()
        with self._moved:
            self._moved.notify_all()

    def hold(self) -> None:
        """Close the gate again after a ``release()``: renders from here on stop at it."""
        self.started.clear()
        self.gate.clear()

    def advance(self, at: float) -> None:
        """Move the gate on to ``at``: held renders run to there and stop again."""
        with self._moved:
            self.at = at
            self._moved.notify_all()

    def wait_started(self, timeout: float = 30) -> None:
        if not self.started.wait(timeout):
            raise AssertionError(f"no render reached the gate in {timeout} s")

    def _limit(self, total: int) -> int:
        return max(int(total * self.at) if self.at < 1 else int(self.at), 1)

    def render(self, request: RenderRequest, *, on_step=None, should_stop=None, **kw) -> Iterator:
        if self.inner is None:
            self.inner = ScriptedEngine()
        inner = self.inner.render(request, on_step=on_step, should_stop=should_stop, **kw)

        def frames():
            self.renders += 1
            produced = iter(inner)
            for index in range(request.num_frames):
                self._hold(index, request.num_frames, should_stop)
                yield next(produced)

        return frames()

    def _hold(self, index: int, total: int, should_stop) -> None:
        with self._moved:
            while not self.gate.is_set() and index >= self._limit(total):
                self.started.set()
                self._moved.wait(0.05)
                if should_stop is not None and should_stop():
                    raise GenerationCancelled(f"stopped at frame {index}")
