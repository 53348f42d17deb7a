"""Done when: with one worker, a tenant's single task starts within two run-lengths while
another tenant has 12 queued (first-in first-out made it wait 13), against a real server."""

from __future__ import annotations

import sqlite3
import time


def create(server, account, prompt: str) -> str:
    body = {"model_name": "kling-v1", "prompt": prompt, "duration": "5"}
    resp = server.request("POST", "/v1/videos/text2video", json=body, account=account)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["task_id"]


def test_a_single_task_starts_within_two_runs_while_another_tenant_has_twelve_queued(
    app_factory,
):
    server = app_factory(env={"OPENKLING_WORKERS": "1"})
    big, small = server.new_account(name="big"), server.new_account(name="small")
    flood = [create(server, big, f"flood {n}") for n in range(12)]
    single = create(server, small, "just one")
    seen = server.request("GET", f"/v1/videos/text2video/{single}", account=small).json()["data"]
    if seen["task_status"] == "submitted":  # next in line behind the run in progress
        assert seen["queue_position"] == 1, seen
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        rows = server.request("GET", "/v1/videos/text2video?pageSize=20", account=big).json()
        if all(t["task_status"] == "succeed" for t in rows["data"]):
            break
        time.sleep(0.5)
    done = server.request("GET", f"/v1/videos/text2video/{single}", account=small).json()
    assert done["data"]["task_status"] == "succeed"

    with sqlite3.connect(server.data_dir / "openkling.db") as db:
        rows = dict(
            (task_id, (created, started, finished))
            for task_id, created, started, finished in db.execute(
                "SELECT id, created_at, started_at, updated_at FROM tasks"
            )
        )
    created, started, _ = rows[single]
    # the runs it waited through: the one in progress when it arrived, and at most one more
    # (a claim made while its create was being committed); first-in first-out made it 12
    waited = [t for t in flood if rows[t][1] < started and rows[t][2] > created]
    assert len(waited) <= 2, f"it waited through {len(waited)} runs of the other tenant"
