"""The fleet: fair, model-aware claim against plain first-in first-out, side by side.

Real parts: the task service's create path, the task store (SQLite in a temporary dir), the
in-process dispatcher with W worker threads and the lifecycle's claim. Simulated: the GPU.
Each worker "runs" a task by sleeping its GPU time, plus a load time when the task's model
differs from the one it ran last (a pipeline swap; a worker's first load counts no swap).

Scenarios (one small tenant task = one run of GPU time; each long enough, 90 to 110 tasks on
4 workers, that the last round, when fewer tasks than workers are left, is a small part):
- flood+trickle: one tenant posts 80 tasks at once; once the workers have loaded their
  pipeline, three small tenants post one task each every two runs, 8 times, over most of the
  flood (104 tasks, one model).
- mixed models: two tenants post 100 tasks, alternately, whose model is one of two at random.
- burst: one tenant posts 60 tasks and four small tenants 8 each, all at the same instant,
  each task's model one of two at random (92 tasks).

Printed per scenario and policy:
- util: the ideal makespan over the real one; ideal = one pipeline load (each worker's
  first) + max(total GPU time / W, last arrival + one run), so 1.0 is a fleet never idle
  and never swapping while work waits (every claim's store round trips count against it);
- busy: while tasks waited (from the end of the cold start to the last claim), the share of
  the workers' time spent on GPU work, not on swaps or idle; the tail, when fewer tasks
  than workers are left, is outside it;
- small p50 / p95: waits of the small tenants' tasks from create to claim, in runs;
- swaps/100: pipeline swaps per 100 tasks;
- makespan: seconds from the first create to the last task's end.

Goals: util >= 0.95; small p95 <= 1.5 runs under the flood; swaps at least 3x fewer
than FIFO on the mixed stream. Usage: python bench/bench_fleet.py [--run 0.5] [--load 0.75]
[--workers 4]
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from openkling.config import Settings
from openkling.dispatch.inprocess import InProcessDispatcher
from openkling.domain.catalog import default_catalog
from openkling.domain.request import GenerationRequest
from openkling.domain.result import TaskResult
from openkling.runtime import build_storage, open_store
from openkling.store.models import Account
from openkling.tasks.accounts import Principal, create_account
from openkling.tasks.lifecycle import Lifecycle
from openkling.tasks.scheduling import Scheduler
from openkling.tasks.service import TaskService

M1, M2 = "kling-v1", "kling-v1-6"


@dataclass
class Fleet:
    """One store, W simulated GPU workers, and what they recorded."""

    service: TaskService
    lifecycle: Lifecycle
    dispatcher: InProcessDispatcher
    run_s: float
    load_s: float
    jitter: random.Random
    created: dict[str, float] = field(default_factory=dict)
    claimed: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)
    gpu: dict[str, float] = field(default_factory=dict)
    busy_from: dict[str, float] = field(default_factory=dict)  # GPU work starts (after a load)
    swaps: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run_next(self, loaded: str | None) -> str | None:
        run = self.lifecycle.claim_next([M1, M2], "gpu", loaded=loaded)
        if run is None:
            return None
        now = time.monotonic()
        with self.lock:
            self.claimed[run.task_id] = now
            gpu = self.run_s * self.jitter.uniform(0.8, 1.2)
            self.gpu[run.task_id] = gpu
            if loaded is not None and loaded != run.model_name:
                self.swaps += 1
        if loaded != run.model_name:
            time.sleep(self.load_s)
        with self.lock:
            self.busy_from[run.task_id] = time.monotonic()
        time.sleep(gpu)
        run.succeed(TaskResult(seed=1))
        with self.lock:
            self.ended[run.task_id] = time.monotonic()
        return run.model_name

    def create(self, tenant: Principal, model: str) -> None:
        req = GenerationRequest(prompt="a harbour", model_name=model)
        task = self.service.submit(tenant, req, family="text2video")
        with self.lock:
            self.created.setdefault(task.id, time.monotonic())


def make_fleet(
    tmp: Path, *, workers: int, fifo: bool, run_s: float, load_s: float, max_skips: int
) -> Fleet:
    settings = Settings(
        data_dir=tmp,
        affinity_max_skips=max_skips,
        rate_limit_per_minute=0,
        max_concurrent_tasks=0,
        lease_seconds=30,
        log_level="WARNING",
    )
    sessions = open_store(settings)
    lifecycle = Lifecycle(settings, sessions, build_storage(settings))
    # the fleet's pipeline load time is known here (OPENKLING_PIPELINE_LOAD_SECONDS)
    lifecycle.scheduler = Scheduler(
        max_skips=settings.affinity_max_skips, fifo=fifo, load_seconds=load_s
    )
    fleet_box: list[Fleet] = []
    dispatcher = InProcessDispatcher(
        lambda loaded: fleet_box[0].run_next(loaded), workers=workers, sweep_seconds=0.5
    )
    service = TaskService(settings, sessions, default_catalog(), lifecycle, dispatcher)
    fleet = Fleet(service, lifecycle, dispatcher, run_s, load_s, random.Random(7))
    fleet_box.append(fleet)
    return fleet


def tenant(fleet: Fleet, name: str) -> Principal:
    with fleet.lifecycle.sessions.begin() as s:
        account: Account = create_account(s, name=name, credits_amount=1_000_000)
        s.flush()
        return Principal(
            id=account.id,
            access_key=account.access_key,
            secret_key=account.secret_key,
            allowed_models=None,
            created_at=account.created_at,
        )


# -- scenarios: each posts its tasks and returns the ids of the small tenants' ones. Tasks
# posted "at once" are stored before the workers start; the clock starts with the workers.
def flood_and_trickle(fleet: Fleet, start) -> set[str]:
    big = tenant(fleet, "big")
    small = [tenant(fleet, f"small{i}") for i in range(3)]
    for _ in range(80):
        fleet.create(big, M1)
    start()
    before = set(fleet.created)
    time.sleep(fleet.load_s)  # the workers' first pipeline load: a cold start, not a queue
    for _ in range(8):  # while the flood runs: one task from each small tenant every 2 runs
        time.sleep(fleet.run_s)
        for t in small:
            fleet.create(t, M1)
        time.sleep(fleet.run_s)
    return set(fleet.created) - before


def mixed_models(fleet: Fleet, start) -> set[str]:
    pick = random.Random(11)
    a, b = tenant(fleet, "a"), tenant(fleet, "b")
    for n in range(100):
        fleet.create(a if n % 2 else b, pick.choice((M1, M2)))
    start()
    return set()


def burst(fleet: Fleet, start) -> set[str]:
    pick = random.Random(13)
    big = tenant(fleet, "big")
    small = [tenant(fleet, f"small{i}") for i in range(4)]
    for _ in range(60):
        fleet.create(big, pick.choice((M1, M2)))
    before = set(fleet.created)
    for _ in range(8):
        for t in small:
            fleet.create(t, pick.choice((M1, M2)))
    start()
    return set(fleet.created) - before


SCENARIOS = {"flood+trickle": flood_and_trickle, "mixed models": mixed_models, "burst": burst}


def measure(name: str, *, fifo: bool, workers: int, run_s: float, load_s: float, k: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        fleet = make_fleet(
            Path(tmp), workers=workers, fifo=fifo, run_s=run_s, load_s=load_s, max_skips=k
        )
        started: list[float] = []

        def start() -> None:
            started.append(time.monotonic())
            with fleet.lock:  # posted at once: they arrive as the workers start
                for task_id in fleet.created:
                    fleet.created[task_id] = started[0]
            fleet.dispatcher.start()

        try:
            small = SCENARIOS[name](fleet, start)
            total = len(fleet.created)
            deadline = time.monotonic() + 300
            while len(fleet.ended) < total and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            fleet.dispatcher.stop()
            fleet.service.close()
            fleet.lifecycle.sessions.engine.dispose()
        t0 = started[0]
        makespan = max(fleet.ended.values()) - t0
        last_arrival = max(fleet.created.values()) - t0
        # every worker loads a pipeline once before its first task, whatever the policy
        ideal = max(sum(fleet.gpu.values()) / workers, last_arrival + run_s) + load_s
        waits = sorted((fleet.claimed[t] - fleet.created[t]) / run_s for t in small)
        # while tasks waited (from the cold start's end to the last claim), the share of the
        # workers' time spent on GPU work: what the claim order can win or lose
        lo, hi = t0 + load_s, max(fleet.claimed.values())
        busy = sum(
            max(0.0, min(fleet.ended[t], hi) - max(fleet.busy_from[t], lo)) for t in fleet.ended
        )
        return {
            "util": ideal / makespan,
            "busy": busy / (workers * (hi - lo)) if hi > lo else 1.0,
            "p50": statistics.median(waits) if waits else None,
            "p95": waits[max(0, int(round(0.95 * len(waits))) - 1)] if waits else None,
            "swaps": 100 * fleet.swaps / total,
            "makespan": makespan,
            "done": len(fleet.ended) == total,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=float, default=0.5, help="GPU seconds per task")
    parser.add_argument("--load", type=float, default=0.75, help="seconds per pipeline load")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--max-skips", type=int, default=Settings().affinity_max_skips, help="affinity bound K"
    )
    parser.add_argument("--only", choices=list(SCENARIOS), default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(
        f"W = {args.workers} workers, run {args.run} s, load {args.load} s per model switch, "
        f"K = {args.max_skips}\n"
    )
    head = f"{'scenario':<15} {'policy':<6} {'util':>5} {'busy':>5} {'small p50':>9}"
    print(f"{head} {'small p95':>9} {'swaps/100':>9} {'makespan':>9}")
    for name in [args.only] if args.only else SCENARIOS:
        for fifo in (True, False):
            r = measure(
                name,
                fifo=fifo,
                workers=args.workers,
                run_s=args.run,
                load_s=args.load,
                k=args.max_skips,
            )

            def runs(v: float | None) -> str:
                return "-" if v is None else f"{v:.2f}"

            print(
                f"{name:<15} {'fifo' if fifo else 'fair':<6} {r['util']:>5.2f} {r['busy']:>5.2f} "
                f"{runs(r['p50']):>9} {runs(r['p95']):>9} {r['swaps']:>9.1f} "
                f"{r['makespan']:>8.2f}s" + ("" if r["done"] else "  (unfinished)")
            )


if __name__ == "__main__":
    main()
