"""The worker's outcomes, driven by a scripted engine: every way a run can end."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from openkling.domain.result import TaskResult
from openkling.domain.status import IllegalTransition, TaskStatus, check_transition
from openkling.errors import EngineError
from openkling.media.encode import probe
from openkling.store.models import Task
from openkling.tasks.lifecycle import CANCELLED_MSG

from .fakes import ScriptedEngine, make_world

PRICE_5S_STD = 10_000  # milli-credits


def test_a_run_succeeds_with_a_typed_result(tmp_path):
    world = make_world(tmp_path, ScriptedEngine())
    task_id = world.create(duration=5, aspect_ratio="9:16")
    world.worker.run(task_id)
    task = world.task(task_id)
    assert task.status == TaskStatus.SUCCEED and task.progress == 100
    result = TaskResult.model_validate(task.result)
    video = result.videos[0]
    assert (video.width, video.height, video.num_frames) == (36, 64, 21)
    assert result.seed == task.seed
    info = probe(world.settings.media_dir / video.key)
    assert (info.width, info.height, info.num_frames) == (36, 64, 21)


def test_engine_error_fails_the_task_with_its_message_and_refunds(tmp_path):
    def boom(index, request):
        if index == 3:
            raise EngineError("out of GPU memory at 1280x720")

    world = make_world(tmp_path, ScriptedEngine(boom))
    before = world.balance()
    task_id = world.create()
    assert world.balance() == before - PRICE_5S_STD
    world.worker.run(task_id)
    task = world.task(task_id)
    assert (task.status, task.status_msg) == ("failed", "out of GPU memory at 1280x720")
    assert world.balance() == before


def test_an_internal_error_shows_its_kind_not_its_text(tmp_path):
    def bug(index, request):
        raise KeyError("/secret/path/to/weights")

    world = make_world(tmp_path, ScriptedEngine(bug))
    task_id = world.create()
    world.worker.run(task_id)
    task = world.task(task_id)
    assert task.status == "failed"
    assert task.status_msg == "internal error: KeyError"


def test_cancel_mid_run_stops_at_the_next_frame_and_refunds(tmp_path):
    world = make_world(tmp_path, ScriptedEngine())
    before = world.balance()
    task_id = world.create()

    def cancel_at_frame_5(index, request):
        if index == 5:
            world.service.cancel(world.principal, task_id)
            world.worker._running[task_id].renew()  # the next lease beat sees the flag

    world.engine.script = cancel_at_frame_5
    world.worker.run(task_id)
    task = world.task(task_id)
    assert (task.status, task.status_msg) == ("failed", CANCELLED_MSG)
    assert world.balance() == before
    assert not list(world.settings.media_dir.glob("videos/*"))


def test_a_lost_lease_records_nothing(tmp_path):
    world = make_world(tmp_path, ScriptedEngine())
    task_id = world.create()
    thief = {}

    def steal(index, request):
        if index == 2 and not thief:
            with world.lifecycle.sessions.begin() as s:  # our lease runs out ...
                s.execute(update(Task).where(Task.id == task_id).values(lease_expires_at=0))
            thief["run"] = world.lifecycle.claim(task_id)  # ... and another run takes it
            world.worker._running[task_id].renew()

    world.engine.script = steal
    world.worker.run(task_id)
    task = world.task(task_id)
    assert task.status == "processing"  # left to the new run, not failed by the old one
    assert task.lease_owner == thief["run"].token and task.attempts == 2
    assert task.result is None


def test_attempts_exhausted_fail_the_task_and_refund(tmp_path):
    world = make_world(tmp_path, ScriptedEngine(), max_attempts=2)
    before = world.balance()
    task_id = world.create()
    for _ in range(2):  # two runs that died: claimed, then their leases ran out
        assert world.lifecycle.claim(task_id) is not None
        with world.lifecycle.sessions.begin() as s:
            s.execute(update(Task).where(Task.id == task_id).values(lease_expires_at=0))
    assert world.lifecycle.claim(task_id) is None
    task = world.task(task_id)
    assert task.status == "failed" and "after 2 attempts" in task.status_msg
    assert world.balance() == before


def test_a_timed_out_run_fails(tmp_path):
    world = make_world(tmp_path, ScriptedEngine(), task_timeout_seconds=0.05)

    def slow(index, request):
        import time

        time.sleep(0.03)

    world.engine.script = slow
    task_id = world.create()
    world.worker.run(task_id)
    task = world.task(task_id)
    assert task.status == "failed" and "timed out" in task.status_msg


def test_release_hands_the_task_back_without_counting_an_attempt(tmp_path):
    world = make_world(tmp_path, ScriptedEngine())
    task_id = world.create()
    run = world.lifecycle.claim(task_id)
    assert world.task(task_id).attempts == 1
    assert run.release()
    task = world.task(task_id)
    assert (task.status, task.lease_owner, task.attempts) == ("processing", None, 0)
    run.renew(50)  # a late beat of the released run revives nothing
    assert run.lost and world.task(task_id).lease_owner is None
    world.worker.run(task_id)  # the next worker takes it at once
    assert world.task(task_id).status == "succeed"
    assert not run.succeed(TaskResult(videos=[], seed=1))  # the old run cannot record


def test_an_outcome_is_recorded_once(tmp_path):
    world = make_world(tmp_path, ScriptedEngine())
    task_id = world.create()
    run = world.lifecycle.claim(task_id)
    assert run.fail("first")
    assert not run.fail("second")
    assert not run.succeed(TaskResult(videos=[], seed=1))
    assert world.task(task_id).status_msg == "first"


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("succeed", "processing"),
        ("failed", "succeed"),
        ("submitted", "succeed"),
        ("succeed", "failed"),
    ],
)
def test_illegal_transitions_raise(current, new):
    with pytest.raises(IllegalTransition, match=f"from {current} to {new}"):
        check_transition(current, new)


def test_multi_shot_renders_each_shot_with_its_own_prompt_seed_and_length(tmp_path):
    from openkling.domain.request import Shot

    world = make_world(tmp_path, ScriptedEngine())
    task_id = world.create(
        model_name="kling-v3",
        duration=3,
        shots=[Shot(prompt="a village", duration=1), Shot(prompt="a red car", duration=2)],
    )
    world.worker.run(task_id)
    task = world.task(task_id)
    assert task.status == "succeed"
    first, second = world.engine.requests
    assert (first.prompt, second.prompt) == ("a village", "a red car")
    assert second.seed != first.seed == task.seed
    video = TaskResult.model_validate(task.result).videos[0]
    assert video.num_frames == 4 + 8  # 1 s and 2 s at 4 fps, cut exactly


def test_a_run_that_lost_its_lease_while_uploading_leaves_no_file(tmp_path, monkeypatch):
    world = make_world(tmp_path, ScriptedEngine())
    task_id = world.create()
    store = world.worker._store
    thief = {}

    def store_then_lose(*args, **kwargs):
        result = store(*args, **kwargs)  # the files are up ...
        with world.lifecycle.sessions.begin() as s:  # ... when the lease runs out
            s.execute(update(Task).where(Task.id == task_id).values(lease_expires_at=0))
        thief["run"] = world.lifecycle.claim(task_id)  # and another run takes the task
        assert list(world.settings.media_dir.glob("videos/*"))
        return result

    monkeypatch.setattr(world.worker, "_store", store_then_lose)
    world.worker.run(task_id)
    task = world.task(task_id)
    assert task.status == "processing" and task.lease_owner == thief["run"].token
    assert not list(world.settings.media_dir.glob("videos/*"))  # nothing nobody records
