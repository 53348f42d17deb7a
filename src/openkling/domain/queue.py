"""A waiting task's place in line, as every door shows it (computed by tasks/queue.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueInfo:
    """``position`` 1: next for its model; ``eta_seconds``: expected wait before it starts,
    None until the model has finished a run."""

    position: int
    eta_seconds: int | None
