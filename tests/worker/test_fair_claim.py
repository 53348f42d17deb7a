"""The fair claim on SQLite, step by step: tenants, weights, affinity and its bound, a worker
dying mid-claim, and queue positions that count down as tasks run."""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from openkling.domain.result import TaskResult
from openkling.store.models import Account, Task

from .fakes import ScriptedEngine, make_world

M1, M2 = "kling-v1", "kling-v1-6"
BOTH = [M1, M2]


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path, ScriptedEngine(), affinity_max_skips=2)


def run_in_order(world, *, models=BOTH, loaded=None) -> list[str]:
    """One worker: claim, finish, claim ... until nothing waits; the task ids in order."""
    order = []
    while (run := world.lifecycle.claim_next(models, "w", loaded=loaded)) is not None:
        order.append(run.task_id)
        assert run.succeed(TaskResult(seed=1))
    return order


def test_a_single_task_runs_second_while_another_tenant_has_twelve_queued(world):
    big, small = world.account("big"), world.account("small")
    flood = [world.create(big) for _ in range(12)]
    single = world.create(small)
    order = run_in_order(world)
    assert order[:2] == [flood[0], single]  # not 13th, as first-in first-out would have it
    assert order[2:] == flood[1:]  # the big tenant's own tasks stay oldest first


def test_three_tenants_take_turns(world):
    a, b, c = world.account("a"), world.account("b"), world.account("c")
    tasks_a = [world.create(a) for _ in range(4)]
    tasks_b = [world.create(b) for _ in range(2)]
    tasks_c = [world.create(c) for _ in range(2)]
    assert run_in_order(world) == [
        tasks_a[0], tasks_b[0], tasks_c[0],
        tasks_a[1], tasks_b[1], tasks_c[1],
        tasks_a[2], tasks_a[3],
    ]  # fmt: skip


@pytest.mark.parametrize(("weight", "share"), [(1.0, 3), (2.0, 4), (5.0, 5)])
def test_priority_weights_the_share_of_running_tasks(world, weight, share):
    heavy, light = world.account("heavy", priority=weight), world.account("light")
    for _ in range(8):
        world.create(heavy)
        world.create(light)
    runs = [world.lifecycle.claim_next(BOTH, f"w{i}") for i in range(6)]  # 6 workers busy
    owners = [run.account_id for run in runs]
    assert owners.count(heavy.id) == share and owners.count(light.id) == 6 - share


def test_a_loaded_model_is_preferred_but_the_fair_pick_waits_at_most_k_times(world):
    other = world.create(model_name=M2)  # the oldest: the fair pick
    mine = [world.create(model_name=M1) for _ in range(4)]
    order = run_in_order(world, loaded=M1)
    assert order == [mine[0], mine[1], other, mine[2], mine[3]]  # K = 2 pass-overs
    assert world.task(other).passed_over == 2


def test_without_a_loaded_model_or_with_k_zero_the_fair_pick_goes_first(tmp_path, world):
    other = world.create(model_name=M2)
    mine = world.create(model_name=M1)
    assert run_in_order(world) == [other, mine]
    strict = make_world(tmp_path / "strict", ScriptedEngine(), affinity_max_skips=0)
    other = strict.create(model_name=M2)
    mine = strict.create(model_name=M1)
    assert run_in_order(strict, loaded=M1) == [other, mine]


def claim(world, loaded=None):
    """One more worker claims (its run is left running); the task it got, or None."""
    run = world.lifecycle.claim_next(BOTH, "w", loaded=loaded)
    return None if run is None else world.task(run.task_id)


def test_cold_workers_split_over_the_models_instead_of_all_taking_the_oldest(world):
    m1 = [world.create(model_name=M1) for _ in range(8)]  # all older: the fair picks
    m2 = [world.create(model_name=M2) for _ in range(8)]
    taken = [claim(world) for _ in range(4)]
    assert [t.model_name for t in taken] == [M1, M2, M1, M2]  # two workers on each model
    assert [t.id for t in taken] == [m1[0], m2[0], m1[1], m2[1]]  # each model oldest first


def test_balancing_cold_workers_passes_the_fair_pick_over_at_most_k_times(world):
    a = [world.create(model_name=M1) for _ in range(2)]
    b = [world.create(model_name=M2) for _ in range(8)]
    taken = [claim(world).id for _ in range(4)]
    # a[1] is the fair pick from the second claim on; M2, waiting with fewer workers on it,
    # takes the second and third; then a[1] has been passed over K = 2 times and goes first
    assert taken == [a[0], b[0], b[1], a[1]]
    assert world.task(a[1]).passed_over == 2
    assert max(world.task(t).passed_over for t in b) == 0


def test_a_worker_moves_to_a_model_no_worker_runs_when_its_own_has_others(world):
    a, b = world.account("a"), world.account("b")
    for _ in range(5):
        world.create(a, model_name=M1)
    for _ in range(3):
        assert claim(world, loaded=M1).model_name == M1  # three workers run M1
    theirs = [world.create(b, model_name=M2) for _ in range(4)]  # b's line: the fair pick
    moved = claim(world, loaded=M1)  # M1 still has work, but three workers run it
    assert (moved.id, moved.passed_over) == (theirs[0], 0)


def test_a_worker_keeps_its_model_while_the_split_is_even(world):
    a = world.account("a")
    for _ in range(6):
        world.create(a, model_name=M1)
        world.create(a, model_name=M2)
    assert [claim(world).model_name for _ in range(3)] == [M1, M2, M1]
    assert claim(world, loaded=M2).model_name == M2  # the fair pick is M1's: affinity


def test_a_worker_leaves_a_task_to_the_worker_already_running_its_model(tmp_path):
    world = make_world(tmp_path, ScriptedEngine(), affinity_max_skips=2, pipeline_load_seconds=60)
    done = world.create(model_name=M2)  # one run ended: the model's run time is known
    assert world.lifecycle.claim_next(BOTH, "m2-worker", loaded=M2).succeed(TaskResult(seed=1))
    assert world.task(done).status == "succeed"
    first, second = world.create(model_name=M2), world.create(model_name=M2)
    running = world.lifecycle.claim_next(BOTH, "m2-worker", loaded=M2)
    assert running.task_id == first
    # the M2 worker is expected to end its run well within a load: it takes M2's next task
    assert claim(world, loaded=M1) is None
    assert running.succeed(TaskResult(seed=1))
    assert claim(world, loaded=M2).id == second


def test_a_worker_loads_another_model_when_loads_are_quick_or_runs_unknown(world, tmp_path):
    first, second = world.create(model_name=M2), world.create(model_name=M2)
    assert world.lifecycle.claim_next(BOTH, "m2-worker", loaded=M2).task_id == first
    # pipeline_load_seconds = 0 (the default): never idle while a task it can run waits
    assert claim(world, loaded=M1).id == second
    slow = make_world(
        tmp_path / "slow", ScriptedEngine(), affinity_max_skips=2, pipeline_load_seconds=60
    )
    first, second = slow.create(model_name=M2), slow.create(model_name=M2)
    assert slow.lifecycle.claim_next(BOTH, "m2-worker", loaded=M2).task_id == first
    # no run of M2 has ended: how soon the M2 worker is free is unknown, so it takes the task
    assert claim(slow, loaded=M1).id == second


def test_a_cold_worker_does_not_leave_tasks_waiting(world):
    world.create(model_name=M2)
    second = world.create(model_name=M2)
    assert claim(world, loaded=M2) is not None
    assert claim(world).id == second  # nothing loaded: a load it needs anyway


def test_a_diversion_takes_the_task_passed_over_before_the_fair_one(world):
    x, y = world.account("x"), world.account("y")
    x_m2 = world.create(x, model_name=M2)  # the oldest: the fair pick
    x_m1 = world.create(x, model_name=M1)
    world.create(y, model_name=M1)
    world.create(y, model_name=M2)
    assert claim(world, loaded=M1).id == x_m1  # affinity passes x's M2 task over
    assert world.task(x_m2).passed_over == 1
    # y is now the fair account (no task running), its oldest is M1: an M2 worker diverts,
    # and repays x's passed-over task rather than taking y's
    assert claim(world, loaded=M2).id == x_m2


def test_a_worker_takes_only_its_models(world):
    world.create(model_name=M2)
    mine = world.create(model_name=M1)
    assert run_in_order(world, models=[M1]) == [mine]


def test_a_worker_dying_in_the_middle_of_a_claim_leaves_the_task_waiting(world, monkeypatch):
    tenant = world.account("t")
    task_id = world.create(tenant)
    with world.lifecycle.sessions() as s:
        before = s.get(Account, tenant.id).last_claim_at

    def die(*_args, **_kwargs):
        raise RuntimeError("worker process killed")

    monkeypatch.setattr(world.lifecycle.scheduler, "mark_claimed", die)
    with pytest.raises(RuntimeError):
        world.lifecycle.claim_next(BOTH, "dying")
    monkeypatch.undo()
    task = world.task(task_id)
    assert (task.status, task.lease_owner, task.attempts) == ("submitted", None, 0)
    with world.lifecycle.sessions() as s:
        assert s.get(Account, tenant.id).last_claim_at == before  # nothing half-written
    run = world.lifecycle.claim_next(BOTH, "next")
    assert run is not None and run.task_id == task_id and run.attempt == 1


def test_a_task_whose_worker_died_after_its_claim_is_taken_first(tmp_path):
    world = make_world(tmp_path, ScriptedEngine(), lease_seconds=0.2)
    lost = world.lifecycle.claim_next(BOTH, "dead")  # claimed, then never renewed
    assert lost is None
    first = world.create()
    second = world.create()
    assert world.lifecycle.claim_next(BOTH, "dead").task_id == first
    time.sleep(0.3)  # the dead worker's lease runs out
    again = world.lifecycle.claim_next(BOTH, "alive")
    assert (again.task_id, again.attempt) == (first, 2)
    assert world.lifecycle.claim_next(BOTH, "alive").task_id == second


def positions(world, ids):
    out = []
    for task_id in ids:
        info = world.service.queue.of(world.task(task_id))
        out.append(info.position if info else None)
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store_world(request, tmp_path):
    """A world on SQLite, and one on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return make_world(tmp_path, ScriptedEngine(), affinity_max_skips=2)
    url = request.getfixturevalue("pg_url")
    return make_world(tmp_path, ScriptedEngine(), affinity_max_skips=2, database_url=url)


def test_positions_count_down_as_tasks_run(any_store_world):
    world = any_store_world
    big, small = world.account("big"), world.account("small")
    flood = [world.create(big) for _ in range(3)]
    single = world.create(small)
    other_model = world.create(small, model_name=M2)
    ids = [*flood, single]
    assert positions(world, ids) == [1, 3, 4, 2]  # the single task is second in line
    assert positions(world, [other_model]) == [1]  # counted in its own model's line
    run = world.lifecycle.claim_next([M1], "w")
    assert positions(world, ids) == [None, 2, 3, 1]  # absent once processing
    assert world.service.queue.of(world.task(single)).eta_seconds is None  # no run finished
    time.sleep(0.05)
    run.succeed(TaskResult(seed=1))
    run = world.lifecycle.claim_next([M1], "w")
    assert run.task_id == single
    assert positions(world, ids) == [None, 1, 2, None]
    info = world.service.queue.of(world.task(flood[2]))
    assert info.eta_seconds is not None and info.eta_seconds >= 1  # from the finished run


def test_the_worker_runs_what_the_claim_gives_and_counts_pipeline_swaps(world):
    def swaps() -> float:
        return REGISTRY.get_sample_value("openkling_pipeline_swaps_total", {"model": M2}) or 0

    before = swaps()
    first = world.create(model_name=M1, duration=5)
    second = world.create(model_name=M2, duration=5)
    assert world.worker.run_next() == M1
    assert world.worker.run_next(loaded=M1) == M2  # no M1 task waits: it swaps
    assert world.worker.run_next(loaded=M2) is None
    assert swaps() == before + 1
    assert [world.task(t).status for t in (first, second)] == ["succeed", "succeed"]
    with world.lifecycle.sessions() as s:
        assert all(t.started_at for t in s.query(Task).all())


def test_the_weight_is_set_with_the_keys_command(world, tmp_path):
    from click.testing import CliRunner

    from openkling.cli.main import main

    heavy, light = world.account("heavy"), world.account("light")
    runner = CliRunner()
    out = runner.invoke(main, ["keys", "priority", heavy.access_key, "3", "--data-dir", tmp_path])
    assert out.exit_code == 0 and out.output.strip() == "priority: 3", out.output
    bad = runner.invoke(main, ["keys", "priority", heavy.access_key, "0", "--data-dir", tmp_path])
    assert bad.exit_code == 2 and "0.01" in bad.output  # names the allowed range
    shown = runner.invoke(main, ["credits", "show", heavy.access_key, "--data-dir", tmp_path])
    assert "priority: 3" in shown.output
    for _ in range(6):
        world.create(heavy)
        world.create(light)
    owners = [world.lifecycle.claim_next(BOTH, f"w{i}").account_id for i in range(4)]
    assert owners.count(heavy.id) == 3
