"""GET /metrics on a real server: every series after one task, parsed with prometheus-client."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from liveserver import free_port
from support.webhooks import Sink


def scrape(url: str) -> dict[str, list]:
    """name -> samples, from the exposition text (the parser drops the _total suffix)."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    return {name: f.samples for name, f in families.items()}


def value(samples: list, name: str, **labels) -> float | None:
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def test_metrics_after_one_task(server_factory, sink):
    server = server_factory()
    body = {
        "model_name": "kling-v2-6",
        "prompt": "a jazz band in a club",
        "sound": "on",
        "callback_url": sink.url,
    }
    created = server.request("POST", "/v1/videos/text2video", json=body)
    assert created.status_code == 200, created.text
    task_id = created.json()["data"]["task_id"]
    assert server.wait_task(task_id)["task_status"] == "succeed"
    assert server.request("GET", "/no/such/endpoint/12345").status_code == 404
    assert server.request("GET", "/studio/app.js").status_code == 200
    # /metrics needs no key: a plain GET, no Authorization header
    deadline = time.monotonic() + 30
    while True:  # the three callbacks (submitted, processing, succeed) go out in the background
        m = scrape(server.base_url + "/metrics")
        delivered = value(m["openkling_callback_deliveries"], "openkling_callback_deliveries_total")
        if delivered == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    # the HTTP edge, by route template: a task id never becomes a label value
    http = m["openkling_http_requests"]
    create_route, get_route = "/v1/videos/text2video", "/v1/videos/text2video/{task_id}"
    assert value(http, "openkling_http_requests_total", route=create_route, method="POST") == 1
    assert value(http, "openkling_http_requests_total", route=get_route, status="200") >= 1
    assert value(http, "openkling_http_requests_total", route="unmatched", status="404") == 1
    # the studio's files are counted under their own label, not as "no route matched"
    assert value(http, "openkling_http_requests_total", route="/studio/{file}", status="200") == 1
    assert not any(task_id in str(s.labels) or "12345" in str(s.labels) for s in http)
    durations = m["openkling_http_request_duration_seconds"]
    count = value(durations, "openkling_http_request_duration_seconds_count", route=create_route)
    total = value(durations, "openkling_http_request_duration_seconds_sum", route=create_route)
    assert count == 1 and 0 < total < 30

    # tasks: accepted and succeeded once; none waiting now (read from the store)
    tasks = m["openkling_tasks"]
    assert value(tasks, "openkling_tasks_total", model="kling-v2-6", status="accepted") == 1
    assert value(tasks, "openkling_tasks_total", model="kling-v2-6", status="succeed") == 1
    assert value(tasks, "openkling_tasks_total", status="failed") is None
    in_state = m["openkling_tasks_in_state"]
    assert value(in_state, "openkling_tasks_in_state", model="kling-v2-6", state="submitted") == 0
    assert value(in_state, "openkling_tasks_in_state", model="kling-v2-6", state="processing") == 0
    assert value(in_state, "openkling_tasks_in_state", model="kling-v1", state="submitted") == 0

    queue = m["openkling_task_queue_seconds"]
    assert value(queue, "openkling_task_queue_seconds_count", model="kling-v2-6") == 1
    assert 0 <= value(queue, "openkling_task_queue_seconds_sum", model="kling-v2-6") < 60
    stages = m["openkling_task_stage_seconds"]
    for stage in ("audio", "render", "camera", "encode", "store"):
        n = value(stages, "openkling_task_stage_seconds_count", model="kling-v2-6", stage=stage)
        assert n == 1, stage
        took = value(stages, "openkling_task_stage_seconds_sum", model="kling-v2-6", stage=stage)
        assert 0 <= took < 60, stage
    assert value(stages, "openkling_task_stage_seconds_sum", stage="encode") > 0

    # callbacks: all three delivered, none left in the outbox
    assert delivered == 3
    assert value(m["openkling_callbacks_pending"], "openkling_callbacks_pending") == 0
    # credits: the seed's price of a 5 s std video
    charged = m["openkling_credits_charged"]
    assert value(charged, "openkling_credits_charged_total", model="kling-v2-6") == 10

    # engine-specific series are declared even where nothing feeds them (synthetic, no CUDA)
    assert "openkling_denoise_step_seconds" in m
    assert "openkling_gpu_memory_peak_bytes" in m
    assert value(m["openkling_gpu_memory_peak_bytes"], "openkling_gpu_memory_peak_bytes") is None


def test_tasks_in_state_and_refunds_come_from_the_store(server_factory):
    """An API-only server (no engine here): waiting tasks show as submitted; a cancel is a
    failed outcome with its credits given back."""
    server = server_factory(env={"OPENKLING_WORKERS": "0"})
    ids = []
    for _ in range(2):
        r = server.request("POST", "/v1/videos/text2video", json={"prompt": "waiting"})
        ids.append(r.json()["data"]["task_id"])
    m = scrape(server.base_url + "/metrics")
    in_state = m["openkling_tasks_in_state"]
    assert value(in_state, "openkling_tasks_in_state", model="kling-v1", state="submitted") == 2

    assert server.request("POST", f"/v1/videos/text2video/{ids[0]}/cancel").status_code == 200
    m = scrape(server.base_url + "/metrics")
    in_state = m["openkling_tasks_in_state"]
    assert value(in_state, "openkling_tasks_in_state", model="kling-v1", state="submitted") == 1
    tasks = m["openkling_tasks"]
    assert value(tasks, "openkling_tasks_total", model="kling-v1", status="accepted") == 2
    assert value(tasks, "openkling_tasks_total", model="kling-v1", status="failed") == 1
    refunded = m["openkling_credits_refunded"]
    assert value(refunded, "openkling_credits_refunded_total", model="kling-v1") == 10


def test_metrics_off_or_on_their_own_port(server_factory):
    off = server_factory(env={"OPENKLING_METRICS": "false"})
    assert off.request("GET", "/metrics", headers={}).status_code == 404

    port = free_port()
    apart = server_factory(env={"OPENKLING_METRICS_PORT": str(port)})
    assert apart.request("GET", "/metrics", headers={}).status_code == 404
    m = scrape(f"http://127.0.0.1:{port}/metrics")
    assert "openkling_tasks_in_state" in m and "openkling_http_requests" in m


def test_the_grafana_dashboard_queries_only_series_openkling_exports():
    import json
    import re
    from pathlib import Path

    from prometheus_client import REGISTRY

    names = {family.name for family in REGISTRY.collect()}
    names |= {"openkling_tasks_in_state", "openkling_callbacks_pending"}  # read at scrape time
    dashboard = json.loads(
        (Path(__file__).parents[1] / "docs" / "grafana-dashboard.json").read_text()
    )
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"openkling_\w+", e)}
    assert used
    for series in used:
        base = re.sub(r"_(bucket|sum|count|total)$", "", series)
        assert base in names or series in names, series
