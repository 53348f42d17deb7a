"""The fleet through the Celery layout: a broker message is only a wake-up, so losing one
loses no task (the API host's sweeper wakes a worker again)."""

from __future__ import annotations

import redis

from support.infra import REDIS_HOST, REDIS_PORT

from .conftest import sql


def _create(api, **body) -> str:
    body = {"model_name": "kling-v1", "prompt": "a lighthouse in a storm", **body}
    resp = api.request("POST", "/v1/videos/text2video", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["task_id"]


def test_a_lost_broker_message_still_leads_to_the_task_running(cluster, scaled_env):
    api = cluster.api()
    task_id = _create(api)  # no worker yet: its wake-up waits in the broker ...
    prefix = scaled_env["OPENKLING_BROKER_URL"].split("global_keyprefix=", 1)[1]
    broker = redis.Redis(REDIS_HOST, REDIS_PORT)
    try:
        assert broker.delete(f"{prefix}openkling.kling-v1") == 1  # ... and is lost
    finally:
        broker.close()
    waiting = api.request("GET", f"/v1/videos/text2video/{task_id}").json()["data"]
    assert waiting["task_status"] == "submitted" and waiting["queue_position"] == 1
    worker = cluster.worker(models="kling-v1")
    data = api.wait_task(task_id, timeout=90)
    assert data["task_status"] == "succeed", cluster.logs()
    assert "queue_position" not in data
    assert f"task {task_id}: attempt 1" in worker.log()
    assert "re-published" in api.log()  # the sweeper's wake-up, not the lost message
    db = scaled_env["OPENKLING_DATABASE_URL"]
    assert sql(db, "SELECT attempts FROM tasks WHERE id = %s", task_id) == [(1,)]
