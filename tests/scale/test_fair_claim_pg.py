"""The fair claim on PostgreSQL: concurrent claimers never wait for one another, never take
the same task, and never take one that fairness says must wait: with affinity off, exactly
by the fair order; with it on, passing a task over at most ``affinity_max_skips`` times."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import select

from openkling.domain.result import TaskResult
from openkling.store.models import Account, Task
from worker.fakes import ScriptedEngine, make_world

MODELS = ["kling-v1", "kling-v1-6"]


@pytest.fixture
def world(tmp_path, pg_url):
    """Affinity and balancing off (K = 0): every claim takes the fair pick."""
    w = make_world(tmp_path, ScriptedEngine(), database_url=pg_url, affinity_max_skips=0)
    yield w
    w.service.close()
    w.lifecycle.sessions.engine.dispose()


@pytest.fixture
def model_aware_world(tmp_path, pg_url):
    """The default bound: claimers balance over the models and keep their loaded one."""
    w = make_world(tmp_path, ScriptedEngine(), database_url=pg_url, affinity_max_skips=2)
    yield w
    w.service.close()
    w.lifecycle.sessions.engine.dispose()


def claim_together(
    world, n: int, *, finish: list | None = None, loaded: list | None = None
) -> list:
    """``n`` threads claim at the same instant (each first finishing its previous run), each
    with the model of its previous run loaded when ``loaded`` is given."""
    barrier = threading.Barrier(n)
    runs: list = [None] * n

    def claimer(i: int) -> None:
        if finish and finish[i] is not None:
            assert finish[i].succeed(TaskResult(seed=1))
        barrier.wait()
        model = loaded[i] if loaded else None
        runs[i] = world.lifecycle.claim_next(MODELS, f"claimer{i}", loaded=model)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return runs


def check_fair(world, created: dict[int, list[str]]) -> Counter:
    """Nothing claimed twice; each account's running tasks are its oldest; the counts of
    accounts that still wait differ by one at most."""
    with world.lifecycle.sessions() as s:
        rows = s.execute(select(Task.id, Task.account_id, Task.status, Task.attempts)).all()
    assert all(r.attempts <= 1 for r in rows)  # no task was claimed twice
    started = {r.id for r in rows if r.status != "submitted"}
    running = Counter(r.account_id for r in rows if r.status == "processing")
    waiting = {r.account_id for r in rows if r.status == "submitted"}
    for ids in created.values():
        taken = [i for i in ids if i in started]
        assert taken == ids[: len(taken)], "a younger task ran before an older one"
    if waiting:
        counts = [running[a] for a in waiting]
        assert max(running.values()) - min(counts) <= 1, running
    return running


def test_eight_concurrent_claimers_share_fairly_and_never_collide(world):
    tenants = [world.account(f"t{i}") for i in range(4)]
    created = {t.id: [] for t in tenants}
    for t, n in zip(tenants, (20, 6, 6, 1), strict=True):
        for k in range(n):
            created[t.id].append(world.create(t, model_name=MODELS[k % 2]))
    runs = claim_together(world, 8)
    assert all(run is not None for run in runs)
    assert len({run.task_id for run in runs}) == 8
    running = check_fair(world, created)
    assert running[tenants[3].id] == 1  # the tenant with one task got it on the first round
    for _ in range(3):  # each claimer finishes its task and claims the next, all at once
        runs = claim_together(world, 8, finish=runs)
        assert len({run.task_id for run in runs if run}) == sum(1 for run in runs if run)
        check_fair(world, created)


def test_model_aware_claimers_pass_a_task_over_at_most_k_times(model_aware_world):
    world = model_aware_world
    tenants = [world.account(f"t{i}") for i in range(4)]
    created: dict[int, list[str]] = {t.id: [] for t in tenants}
    for t, n in zip(tenants, (20, 6, 6, 2), strict=True):
        for k in range(n):
            created[t.id].append(world.create(t, model_name=MODELS[(k // 2) % 2]))
    runs = claim_together(world, 8)
    assert len({run.task_id for run in runs}) == 8
    for _ in range(3):
        models = [run.model_name if run else None for run in runs]
        runs = claim_together(world, 8, finish=runs, loaded=models)
        assert len({run.task_id for run in runs if run}) == sum(1 for run in runs if run)
    with world.lifecycle.sessions() as s:
        rows = {
            r.id: r
            for r in s.execute(
                select(Task.id, Task.status, Task.attempts, Task.passed_over, Task.model_name)
            )
        }
    assert all(r.attempts <= 1 for r in rows.values())  # no task was claimed twice
    assert max(r.passed_over for r in rows.values()) <= 2  # the bound holds
    for ids in created.values():  # per account and model, oldest first
        for model in MODELS:
            own = [i for i in ids if rows[i].model_name == model]
            taken = [i for i in own if rows[i].status != "submitted"]
            assert taken == own[: len(taken)], "a younger task ran before an older one"


def test_a_claimer_skips_an_account_being_claimed_for_instead_of_waiting(world):
    busy, free = world.account("busy"), world.account("free")
    world.create(busy)
    theirs = world.create(free)
    with world.lifecycle.sessions.begin() as s:  # another claimer holds "busy" right now
        s.execute(select(Account.id).where(Account.id == busy.id).with_for_update())
        got: list = []
        t = threading.Thread(target=lambda: got.append(world.lifecycle.claim_next(MODELS, "w")))
        t.start()
        t.join(timeout=10)
        assert not t.is_alive(), "the claim waited for another claimer's lock"
        assert got[0].task_id == theirs
