"""A worker machine dies mid-task: its task runs again elsewhere and every task ends `succeed`
once, charged once, never refunded, with a downloadable video."""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx
import pytest

from support.webhooks import Receiver

from .conftest import check_mp4, sql


@pytest.fixture
def sink():
    s = Receiver()
    yield s
    s.close()


def _running_on(db: str, pid: int) -> list[tuple[str, int]]:
    """(task id, progress) of tasks whose lease a worker process holds."""
    return sql(
        db,
        "SELECT id, progress FROM tasks WHERE status = 'processing' AND lease_owner LIKE %s",
        f"%-{pid}-%",
    )


@pytest.mark.slow
def test_sigkill_of_a_worker_mid_task_loses_nothing(cluster, scaled_env, sink):
    db = scaled_env["OPENKLING_DATABASE_URL"]
    api = cluster.api()
    victim = cluster.worker()
    survivor = cluster.worker()

    bodies = [
        {"model_name": "kling-v1"},
        {"model_name": "kling-v2-6", "sound": "on"},
        {"model_name": "kling-v1", "mode": "pro"},
        {"model_name": "kling-v2-6"},
        {"model_name": "kling-v1"},
        {"model_name": "kling-v2-6", "sound": "on"},
    ]
    task_ids = []
    for i, body in enumerate(bodies):
        body = {"prompt": f"kite {i}", "duration": "10", "callback_url": sink.url, **body}
        resp = api.request("POST", "/v1/videos/text2video", json=body)
        assert resp.status_code == 200, resp.text
        task_ids.append(resp.json()["data"]["task_id"])

    # SIGKILL the victim as soon as it holds a task's lease, i.e. while it renders the task
    deadline = time.monotonic() + 60
    while not _running_on(db, victim.pid):
        assert time.monotonic() < deadline, cluster.logs()
        time.sleep(0.02)
    victim.kill()
    # what it held when it died: its lease stays in the store until it runs out
    held = [task_id for task_id, _ in _running_on(db, victim.pid)]
    assert len(held) == 1, cluster.logs()
    killed = held[0]

    results = {task_id: api.wait_task(task_id, timeout=150) for task_id in task_ids}

    assert {t: r["task_status"] for t, r in results.items()} == dict.fromkeys(task_ids, "succeed")
    attempts = dict(sql(db, "SELECT id, attempts FROM tasks"))
    assert attempts[killed] == 2, cluster.logs()  # run again after the lease ran out
    assert f"task {killed}: synthetic engine" in survivor.log()

    # one charge per task, no refund, and the balance agrees
    ledger = Counter(sql(db, "SELECT task_id, kind FROM ledger WHERE task_id IS NOT NULL"))
    assert ledger == Counter({(t, "charge"): 1 for t in task_ids})
    costs = dict(sql(db, "SELECT id, cost_milli FROM tasks"))
    (balance,) = sql(db, "SELECT balance_milli FROM accounts WHERE access_key = %s", api.access_key)
    assert balance == (1000 * 1000 - sum(costs.values()),)

    # succeed happened exactly once per task: one outbox row for it, delivered by the API host
    succeeded = Counter(
        task_id
        for task_id, payload in sql(db, "SELECT task_id, payload::text FROM callbacks")
        if json.loads(payload)["task_status"] == "succeed"
    )
    assert succeeded == Counter(task_ids)
    deadline = time.monotonic() + 30
    while {t for t, s in sink.statuses if s == "succeed"} != set(task_ids):
        assert time.monotonic() < deadline, (sink.statuses, api.log()[-3000:])
        time.sleep(0.1)

    for task_id, body in zip(task_ids, bodies, strict=True):
        video = results[task_id]["task_result"]["videos"][0]
        resp = httpx.get(video["url"], timeout=30)
        assert resp.status_code == 200, (task_id, resp.status_code)
        info = check_mp4(resp.content)
        assert info["codec"] == "h264" and info["frames"] > 0
        assert info["audio"] == (body.get("sound") == "on")
