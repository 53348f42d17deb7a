"""Continuation: an extension's parent video read back, its last frame the new clip's start.

The parent is decoded twice, streaming (a 3-minute video does not fit in memory as frames):
once for its last frame and its frame count, once into the encoder ahead of the new frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from ..domain.request import ParentVideo
from ..errors import EngineError
from ..storage.base import Storage


def parent_file(storage: Storage, parent: ParentVideo, workdir: Path) -> Path:
    """A local path of the parent's MP4 (its own file when storage is local)."""
    local = storage.local_path(parent.key)
    if local is not None and local.exists():
        return local
    try:
        data = storage.read(parent.key)
    except FileNotFoundError:
        raise EngineError("the video to extend is no longer in storage") from None
    path = workdir / "parent.mp4"
    path.write_bytes(data)
    return path


def frames(path: Path) -> Iterator[np.ndarray]:
    """Every frame of a video as HxWx3 uint8 RGB, in order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")


def last_frame(path: Path) -> tuple[np.ndarray, int]:
    """The last frame of a video, and how many frames it has."""
    last, count = None, 0
    for frame in frames(path):
        last, count = frame, count + 1
    if last is None:
        raise EngineError("the video to extend has no frames")
    return last, count
