"""A Celery worker exports its own metrics on --metrics-port: the stages it ran, queue wait,
outcomes; the API host keeps the edge's series and the store gauges."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .conftest import WorkerProcess, free_port


def scrape(url: str) -> dict[str, list]:
    text = httpx.get(url, timeout=10).text
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(samples: list, name: str, **labels) -> float | None:
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def test_worker_metrics_port(cluster):
    api = cluster.api()
    port = free_port()
    worker = WorkerProcess(
        data_dir=cluster.tmp / "metrics-worker",
        env={**cluster.env, "OPENKLING_METRICS_PORT": str(port)},
        models="kling-v1",
    )
    cluster.workers.append(worker)
    worker.start()

    created = api.request("POST", "/v1/videos/text2video", json={"prompt": "a fox"})
    task_id = created.json()["data"]["task_id"]
    assert api.wait_task(task_id)["task_status"] == "succeed"

    m = scrape(f"http://127.0.0.1:{port}/metrics")  # the worker's own port
    tasks = m["openkling_tasks"]
    assert value(tasks, "openkling_tasks_total", model="kling-v1", status="succeed") == 1
    assert value(tasks, "openkling_tasks_total", status="accepted") is None  # the API's
    queue = m["openkling_task_queue_seconds"]
    assert value(queue, "openkling_task_queue_seconds_count", model="kling-v1") == 1
    stages = m["openkling_task_stage_seconds"]
    for stage in ("encode", "store"):
        count = "openkling_task_stage_seconds_count"
        assert value(stages, count, model="kling-v1", stage=stage) == 1, stage
    assert not m["openkling_http_requests"]  # declared, but no HTTP edge runs in a worker

    a = scrape(api.base_url + "/metrics")
    assert value(a["openkling_tasks"], "openkling_tasks_total", status="accepted") == 1
    in_state = a["openkling_tasks_in_state"]
    assert value(in_state, "openkling_tasks_in_state", model="kling-v1", state="processing") == 0
    assert value(a["openkling_task_stage_seconds"], "openkling_task_stage_seconds_count") is None
