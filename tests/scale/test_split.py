"""API-only hosts and GPU workers: `openkling serve --no-worker` plus `openkling worker`,
on PostgreSQL, Redis and S3."""

from __future__ import annotations

import time

import httpx

from openkling.config import Settings
from openkling.dispatch.celery import CeleryDispatcher

from .conftest import check_mp4, sql


def _create(api, **body) -> str:
    body = {"model_name": "kling-v1", "prompt": "a lighthouse in a storm", **body}
    resp = api.request("POST", "/v1/videos/text2video", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["task_id"]


def test_api_only_host_and_workers_per_model(cluster, scaled_env):
    api = cluster.api()
    worker = cluster.worker(models="kling-v2-6")

    ready = httpx.get(api.base_url + "/readyz", timeout=30)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "dispatcher": "ok", "storage": "ok"}

    waiting = _create(api, model_name="kling-v1")  # no worker serves kling-v1 yet
    task_id = _create(api, model_name="kling-v2-6", sound="on")
    data = api.wait_task(task_id, timeout=90)
    assert data["task_status"] == "succeed", data
    url = data["task_result"]["videos"][0]["url"]
    assert url.startswith(scaled_env["OPENKLING_S3_ENDPOINT_URL"])  # served by S3, not the API
    video = httpx.get(url, timeout=30)
    assert video.status_code == 200
    info = check_mp4(video.content)
    assert info["codec"] == "h264" and info["audio"] and info["frames"] > 0
    assert min(info["width"], info["height"]) == 144

    # the engine ran in the worker; the API process ran none
    assert f"task {task_id}: synthetic engine" in worker.log()
    assert "synthetic engine," not in api.log()
    db = scaled_env["OPENKLING_DATABASE_URL"]
    assert sql(db, "SELECT attempts FROM tasks WHERE id = %s", task_id) == [(1,)]

    # the kling-v1 task waited in its own queue; a worker for that model (a new GPU host) runs it
    status = api.request("GET", f"/v1/videos/text2video/{waiting}").json()["data"]["task_status"]
    assert status == "submitted"
    assert f"task {waiting}" not in worker.log()
    cluster.worker(models="kling-v1")
    data = api.wait_task(waiting, timeout=90)
    assert data["task_status"] == "succeed", data
    assert check_mp4(httpx.get(data["task_result"]["videos"][0]["url"], timeout=30).content)


def test_redelivery_of_a_finished_task_is_a_no_op(cluster, scaled_env):
    db = scaled_env["OPENKLING_DATABASE_URL"]
    api = cluster.api()
    worker = cluster.worker(models="kling-v1")
    task_id = _create(api, callback_url="http://127.0.0.1:9/hook")
    assert api.wait_task(task_id, timeout=90)["task_status"] == "succeed"

    def snapshot():
        return (
            sql(
                db,
                "SELECT status, attempts, updated_at, result::text FROM tasks WHERE id = %s",
                task_id,
            ),
            sql(db, "SELECT kind, delta_milli FROM ledger WHERE task_id = %s ORDER BY id", task_id),
            sql(db, "SELECT count(*) FROM callbacks WHERE task_id = %s", task_id),
            sql(db, "SELECT balance_milli FROM accounts ORDER BY id"),
        )

    before = snapshot()
    dispatcher = CeleryDispatcher(
        Settings(broker_url=scaled_env["OPENKLING_BROKER_URL"]), stale=lambda: [], sweep_seconds=1
    )
    try:
        message_ids = [dispatcher.publish(task_id, "kling-v1") for _ in range(2)]
    finally:
        dispatcher.stop()
    deadline = time.monotonic() + 30
    while not all(f"openkling.run[{m}] succeeded" in worker.log() for m in message_ids):
        assert time.monotonic() < deadline, worker.log()[-3000:]
        time.sleep(0.1)

    assert snapshot() == before
    assert before[1] == [("charge", -10_000)]
    assert worker.log().count(f"task {task_id}: synthetic engine") == 1  # it ran once only


def test_readyz_reports_a_broker_outage_and_tasks_are_still_accepted(cluster):
    from .conftest import free_port

    api = cluster.api(env={"OPENKLING_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"})
    ready = httpx.get(api.base_url + "/readyz", timeout=30)
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "ok" and checks["storage"] == "ok"
    assert checks["dispatcher"].startswith("error")
    task_id = _create(api)  # stored and charged; the sweeper publishes it when the broker is back
    data = api.request("GET", f"/v1/videos/text2video/{task_id}").json()["data"]
    assert data["task_status"] == "submitted"
