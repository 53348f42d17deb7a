"""Draining a GPU host: SIGTERM lets the worker finish its running task, take no new one, and
exit; the tasks still queued run on the next worker for their model."""

from __future__ import annotations

import time

from .conftest import sql


def test_sigterm_finishes_the_running_task_and_takes_no_other(cluster, scaled_env):
    db = scaled_env["OPENKLING_DATABASE_URL"]
    api = cluster.api()
    worker = cluster.worker(models="kling-v1")
    task_ids = []
    for i in range(3):
        body = {"model_name": "kling-v1", "prompt": f"drain {i}", "duration": "10", "mode": "pro"}
        resp = api.request("POST", "/v1/videos/text2video", json=body)
        assert resp.status_code == 200, resp.text
        task_ids.append(resp.json()["data"]["task_id"])

    deadline = time.monotonic() + 60
    running: list = []
    while not running:
        assert time.monotonic() < deadline, cluster.logs()
        running = sql(
            db,
            "SELECT id FROM tasks WHERE status = 'processing' AND lease_owner LIKE %s",
            f"%-{worker.pid}-%",
        )
        time.sleep(0.02)
    (draining,) = running[0]
    worker.proc.terminate()  # SIGTERM, as `systemctl stop` or a pod deletion sends
    assert worker.proc.wait(timeout=60) == 0, worker.log()[-3000:]

    statuses = dict(sql(db, "SELECT id, status FROM tasks"))
    assert statuses[draining] == "succeed"  # finished by the draining worker, not cut off
    assert sql(db, "SELECT attempts FROM tasks WHERE id = %s", draining) == [(1,)]
    waiting = [t for t in task_ids if statuses[t] == "submitted"]
    assert waiting, statuses  # it took no new task once told to stop

    cluster.worker(models="kling-v1")  # the next GPU host for this model
    for task_id in task_ids:
        assert api.wait_task(task_id, timeout=90)["task_status"] == "succeed"
    attempts = dict(sql(db, "SELECT id, attempts FROM tasks"))
    assert attempts == dict.fromkeys(task_ids, 1)
