"""The worker: claims tasks and runs each one's render plan to a stored video."""

from .plan import RenderPlan, ShotPlan, plan_render
from .run import Worker
from .stages import STAGES, NullObserver, WorkerObserver

__all__ = [
    "STAGES",
    "NullObserver",
    "RenderPlan",
    "ShotPlan",
    "Worker",
    "WorkerObserver",
    "plan_render",
]
