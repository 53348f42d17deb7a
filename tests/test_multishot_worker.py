"""Multi-shot runs in the worker, with a scripted engine: each shot's prompt, length and seed,
cuts on the exact frame, one soundtrack, progress across shots, cancel between and inside."""

from __future__ import annotations

import hashlib
import math
import time

import av
import numpy as np
import pytest

from openkling.config import Settings
from openkling.domain.catalog import default_catalog
from openkling.domain.request import GenerationRequest, Shot
from openkling.domain.result import TaskResult
from openkling.engines.base import Capabilities, RenderRequest
from openkling.engines.procedural_audio import ProceduralAudio
from openkling.errors import GenerationCancelled
from openkling.media.encode import probe
from openkling.runtime import build_runtime
from openkling.tasks.accounts import Principal, create_account
from openkling.worker import Worker
from openkling.worker.lease import Lease
from openkling.worker.plan import SEED_STRIDE

FPS = 8.0
SHOTS = [Shot(prompt="a quiet village", duration=3), Shot(prompt="a red car", duration=4)]


def colour(prompt: str) -> int:
    """The grey level the scripted engine paints a prompt's frames with."""
    return 30 + hashlib.sha256(prompt.encode()).digest()[0] % 190


class ScriptedEngine:
    """Uniform frames per prompt; Wan's 4k+1 frame rule, so shots must be cut to length.
    One step per frame; ``hook(call_index, step)`` runs before each step."""

    name = "scripted"
    capabilities = Capabilities()

    def __init__(self, hook=None, check_stop: bool = True) -> None:
        self.calls: list[dict] = []
        self.hook = hook
        self.check_stop = check_stop

    def output_size(self, mode: str, aspect_ratio: str) -> tuple[int, int]:
        return 64, 36

    def frame_plan(self, duration_s: float) -> tuple[int, float]:
        frames = math.ceil(duration_s * FPS)
        return 4 * math.ceil((frames - 1) / 4) + 1, FPS

    def canvas_size(self, width: int, height: int) -> tuple[int, int]:
        return width + width % 2, height + height % 2

    def render(self, request: RenderRequest, *, on_step=None, should_stop=None):
        call = {"prompt": request.prompt, "frames": request.num_frames, "seed": request.seed}
        call["steps"] = 0
        self.calls.append(call)
        index = len(self.calls) - 1
        for step in range(request.num_frames):
            if self.hook is not None:
                self.hook(index, step)
            if self.check_stop and should_stop is not None and should_stop():
                raise GenerationCancelled()
            call["steps"] = step + 1
            if on_step is not None:
                on_step(step + 1, request.num_frames)
            yield np.full((request.height, request.width, 3), colour(request.prompt), np.uint8)


class Registry:
    def __init__(self, engine: ScriptedEngine) -> None:
        self.engine = engine
        self.audio_calls: list[float] = []
        self.catalog = default_catalog()  # the worker serves every model it names

    def video(self, model_name: str, *, image: bool = False) -> ScriptedEngine:
        return self.engine

    def audio(self, model_name: str):
        registry = self

        class Counted(ProceduralAudio):
            def render(self, prompt, seconds, seed, sample_rate=48000):
                registry.audio_calls.append(seconds)
                return super().render(prompt, seconds, seed, sample_rate)

        return Counted()


@pytest.fixture
def world(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        workers=0,
        x264_preset="ultrafast",
        lease_seconds=0.6,
        rate_limit_per_minute=0,
    )
    runtime = build_runtime(settings, run_engines=False, callbacks=False)
    with runtime.sessions.begin() as s:
        row = create_account(s, credits_amount=1000)
        account = Principal(row.id, row.access_key, row.secret_key, None, row.created_at)
    yield settings, runtime, account
    runtime.stop()


def submit(runtime, account, **fields) -> str:
    req = GenerationRequest(model_name="kling-v3", duration=7, shots=SHOTS, **fields)
    return runtime.service.submit(account, req, family="text2video").id


def finish(settings, runtime, account, task_id, engine):
    registry = Registry(engine)
    Worker(settings, runtime.lifecycle, registry, runtime.storage).run(task_id)
    return runtime.service.get(account, task_id=task_id), registry


def frame_levels(path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.to_ndarray(format="gray").mean()) for f in container.decode(video=0)]


def test_each_shot_has_its_prompt_length_and_seed_and_cuts_on_its_frame(world):
    settings, runtime, account = world
    task_id = submit(runtime, account, sound=True)
    engine = ScriptedEngine()
    task, registry = finish(settings, runtime, account, task_id, engine)
    assert task.status == "succeed", task.status_msg

    # each shot: its own prompt, rendered by the engine's frame rule, seeded from the task
    assert [c["prompt"] for c in engine.calls] == ["a quiet village", "a red car"]
    assert [c["frames"] for c in engine.calls] == [25, 33]  # 24 and 32 rounded up to 4k+1
    assert [c["seed"] for c in engine.calls] == [
        task.seed,
        (task.seed + SEED_STRIDE) % 2**31,
    ]

    result = TaskResult.model_validate(task.result)
    (video,) = result.videos
    path = settings.media_dir / video.key
    levels = frame_levels(path)
    assert len(levels) == 56 == video.num_frames  # 3 s + 4 s at 8 fps, extra frames cut
    first, second = colour("a quiet village"), colour("a red car")
    shot_of = [0 if abs(v - first) < abs(v - second) else 1 for v in levels]
    assert shot_of == [0] * 24 + [1] * 32  # the cut sits on frame 24 = 3.0 s exactly

    # one soundtrack, made once for the whole video
    assert registry.audio_calls == [7.0]
    info = probe(path)
    assert info.has_audio and abs(info.audio_duration - 7.0) < 0.05


def test_progress_runs_across_all_shots(world, monkeypatch):
    settings, runtime, account = world
    seen: list[int] = []
    original = Lease.report

    def record(self, progress):
        seen.append(progress)
        original(self, progress)

    monkeypatch.setattr(Lease, "report", record)
    task_id = submit(runtime, account)
    task, _ = finish(settings, runtime, account, task_id, ScriptedEngine())
    assert task.status == "succeed" and task.progress == 100
    assert seen == sorted(seen)  # never goes back at a cut
    # the first shot (24 of 56 frames) fills its share only, the second the rest
    assert seen[0] <= 5 and max(seen) == 95  # the last 5 are the encode and store
    assert any(35 <= p <= 41 for p in seen)  # about 95 * 24 / 56 at the cut


def test_cancel_inside_a_shot_stops_the_engine_there(world):
    settings, runtime, account = world
    task_id = submit(runtime, account)

    def hook(call: int, step: int) -> None:
        if (call, step) == (1, 3):  # the second shot, its fourth step
            runtime.service.cancel(account, task_id)
            time.sleep(0.6)  # a lease beat or two carries the cancel to the run

    engine = ScriptedEngine(hook=hook)
    task, _ = finish(settings, runtime, account, task_id, engine)
    assert task.status == "failed"
    assert engine.calls[0]["steps"] == 24  # the frames the first shot keeps
    assert engine.calls[1]["steps"] == 3  # stopped inside the second shot, at its next step
    assert runtime.service.balance(account)[1] == 1000 * 1000  # refunded


def test_cancel_between_shots_renders_no_further_shot(world):
    settings, runtime, account = world
    task_id = submit(runtime, account)
    engine = ScriptedEngine(check_stop=False)  # the engine itself never looks

    def hook(call: int, step: int) -> None:
        if (call, step) == (0, 23):  # the first shot's last kept frame
            runtime.service.cancel(account, task_id)
            time.sleep(0.6)  # a lease beat or two carries the cancel to the run

    engine.hook = hook
    task, _ = finish(settings, runtime, account, task_id, engine)
    assert task.status == "failed"
    assert len(engine.calls) == 1  # the second shot never started


def test_shots_start_on_the_frame_nearest_their_time_at_a_fractional_rate():
    from openkling.worker.plan import plan_render

    class Ntsc(ScriptedEngine):
        def frame_plan(self, duration_s: float) -> tuple[int, float]:
            return math.ceil(duration_s * 23.976), 23.976

    shots = [Shot(prompt=f"shot {i}", duration=1) for i in range(6)]
    req = GenerationRequest(model_name="kling-v3", duration=6, shots=shots)
    plan = plan_render(req, Ntsc(), seed=1)
    assert [s.start_frame for s in plan.shots] == [round(i * 23.976) for i in range(6)]
    assert plan.num_frames == round(6 * 23.976)
