"""One job across several devices: a group of rank processes running diffusers' context
parallelism (Ulysses or ring attention) over one pipeline.

The worker process stays out of ``torch.distributed``: it starts one process per device
(``forkserver``: one server process imports torch and diffusers once, and each rank is forked
from it, so a group of N costs one import rather than N; CUDA is first touched in the ranks,
never in the server), each loads the pipeline onto its device and enables parallelism on the
denoiser(s); the ranks meet over TCP on loopback (gloo on CPU, nccl on CUDA). For each job
the worker sends the same arguments and seed to every rank; rank 0 reports each step, the
ranks agree after every step whether to stop (an all-reduce of the worker's stop flag, so all
stop at the same step), and rank 0 sends the frames back. Closing the group ends the ranks.
"""

from __future__ import annotations

import logging
import queue
import socket
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from ...errors import EngineError, GenerationCancelled
from .common import LoadSpec, StepHook

log = logging.getLogger(__name__)

# what every rank imports, imported once in the forkserver that the ranks are forked from
PRELOAD = ["torch", "torch.distributed", "diffusers", "openkling.engines.diffusers.common"]
READY_TIMEOUT_S = 900.0  # loading a 14B model on every rank takes minutes


class _Stop(Exception):
    """Raised on every rank at the same step when the worker asked to stop."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RankGroup:
    """Stands in the pipeline pool for a pipeline loaded across ``spec.devices``."""

    is_rank_group = True
    broken = False  # a rank failed mid-job: the pool reloads the group on the next one

    def __init__(self, spec: LoadSpec) -> None:
        import torch.multiprocessing as mp

        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)  # read when the forkserver first starts
        self.spec = spec
        self.world = len(spec.devices)
        port = _free_port()
        self._jobs = [ctx.Queue() for _ in range(self.world)]
        self._events = ctx.Queue()
        self._stop = ctx.Event()
        self._procs = [
            ctx.Process(
                target=_rank_main,
                args=(rank, self.world, port, spec, self._jobs[rank], self._events, self._stop),
                daemon=True,
                name=f"openkling-rank-{rank}",
            )
            for rank in range(self.world)
        ]
        for proc in self._procs:
            proc.start()
        ready = 0
        while ready < self.world:
            kind, *rest = self._next(READY_TIMEOUT_S)
            if kind == "error":
                self.close()
                raise RuntimeError(rest[0])
            ready += kind == "ready"
        log.info(
            "loaded %s from %s on %s (%s = %d)",
            spec.pipeline,
            spec.weights,
            ", ".join(spec.devices),
            *(spec.parallel or ("ulysses", self.world)),
        )

    def run(self, args: dict[str, Any], seed: int, hook: StepHook) -> Any:
        """The pipeline's output for ``args`` (the generator and callback are made on each
        rank); ``hook`` gets each step and may stop the job, as on one device."""
        job = {k: v for k, v in args.items() if k not in ("generator", "callback_on_step_end")}
        self._stop.clear()
        for jobs in self._jobs:
            jobs.put((seed, job))
        while True:
            kind, *rest = self._next(None)
            if kind == "step":
                done, total = rest
                try:
                    hook(SimpleNamespace(_num_timesteps=total), done - 1, None, {})
                except BaseException:  # noqa: BLE001 - the ranks stop, then it is re-raised
                    self._stop.set()
            elif kind == "done":
                return SimpleNamespace(frames=rest[0])
            elif kind == "stopped":
                raise hook.raised or GenerationCancelled("cancelled")
            elif kind == "error":
                # the other ranks may wait in a collective for the failed one: end them all
                self.broken = True
                self.close()
                raise RuntimeError(rest[0])

    def maybe_free_model_hooks(self) -> None:
        """Nothing to reset here: each rank resets its own pipeline after a stopped job."""

    def _next(self, timeout: float | None) -> tuple:
        """The next message from a rank; a rank that died is an error, not a hang."""
        waited = 0.0
        while True:
            try:
                return self._events.get(timeout=1.0)
            except queue.Empty:
                waited += 1.0
                dead = [p for p in self._procs if not p.is_alive()]
                if dead:
                    return ("error", f"rank process {dead[0].name} exited ({dead[0].exitcode})")
                if timeout is not None and waited >= timeout:
                    return ("error", f"ranks not ready after {timeout:.0f} s")

    def close(self) -> None:
        for jobs in self._jobs:
            try:
                jobs.put(None)
            except (OSError, ValueError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)


def enable_parallel(pipe: Any, spec: LoadSpec, device: str) -> None:
    """diffusers' context parallelism on each denoiser of ``pipe``."""
    import torch
    from diffusers import ContextParallelConfig

    kind, degree = spec.parallel or ("ulysses", len(spec.devices))
    for name in spec.denoisers:
        denoiser = getattr(pipe, name, None)
        if denoiser is None:
            continue
        config = ContextParallelConfig(**{f"{kind}_degree": degree})
        if kind == "ring":
            # ring attention merges partial results by their log-sum-exp, which PyTorch's
            # plain SDPA path does not return; cuDNN attention does
            denoiser.set_attention_backend("_native_cudnn")
        if device == "cpu":
            # diffusers places each rank on accelerator (rank % device_count), which is zero
            # on a CPU-only build: there every rank is simply the CPU
            count = torch.accelerator.device_count
            torch.accelerator.device_count = lambda: 1
            try:
                denoiser.enable_parallelism(config=config)
            finally:
                torch.accelerator.device_count = count
        else:
            denoiser.enable_parallelism(config=config)


def _rank_main(rank, world, port, spec, jobs, events, stop) -> None:  # pragma: no cover - child
    device = spec.devices[rank]
    try:
        import torch
        import torch.distributed as dist

        from .common import load_pipeline

        cuda = device.startswith("cuda")
        if cuda:
            torch.cuda.set_device(torch.device(device))
        dist.init_process_group(
            "nccl" if cuda else "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world,
        )
        pipe = load_pipeline(replace(spec, devices=(device,), device=device))
        enable_parallel(pipe, spec, device)
    except BaseException as exc:  # noqa: BLE001 - reported to the worker, which refuses the job
        events.put(("error", f"rank {rank} on {device}: {type(exc).__name__}: {exc}"))
        return
    events.put(("ready", rank))
    flag_device = torch.device(device) if cuda else torch.device("cpu")
    while True:
        job = jobs.get()
        if job is None:
            break
        seed, args = job

        steps = args.get("num_inference_steps")

        def step_end(pipe: Any, step: int, timestep: Any, tensors: dict, steps=steps) -> dict:
            total = getattr(pipe, "_num_timesteps", None) or steps
            if rank == 0:
                events.put(("step", step + 1, total))
            flag = torch.tensor([1.0 if stop.is_set() else 0.0], device=flag_device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            if flag.item() > 0:
                raise _Stop()
            return {}

        try:
            output = pipe(
                **args,
                generator=torch.Generator("cpu").manual_seed(seed & 0xFFFF_FFFF_FFFF_FFFF),
                callback_on_step_end=step_end,
            )
            if rank == 0:
                events.put(("done", output.frames))
        except _Stop:
            pipe.maybe_free_model_hooks()
            if rank == 0:
                events.put(("stopped",))
        except BaseException as exc:  # noqa: BLE001
            events.put(("error", f"rank {rank} on {device}: {type(exc).__name__}: {exc}"))
    dist.destroy_process_group()


__all__ = ["EngineError", "RankGroup", "enable_parallel"]
