"""Nothing is lost: a server killed mid-task finishes the task after a restart, charged once;
cancel stops a running task and refunds it; progress is reported while a task runs."""

from __future__ import annotations

import sqlite3
import time

from liveserver import LiveServer

# Big enough that a task runs for a few seconds on this machine.
SLOW_ENV = {"OPENKLING_PRO_SHORT_SIDE": "720", "OPENKLING_X264_PRESET": "veryfast"}
SLOW_BODY = {"prompt": "a lighthouse in a storm", "mode": "pro", "duration": "10"}


def ledger(server: LiveServer, task_id: str) -> list[tuple[str, int]]:
    with sqlite3.connect(server.data_dir / "openkling.db") as db:
        return db.execute(
            "SELECT kind, delta_milli FROM ledger WHERE task_id = ? ORDER BY id", (task_id,)
        ).fetchall()


def wait_processing(server: LiveServer, task_id: str, min_progress: int = 1) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data = server.request("GET", f"/v1/videos/text2video/{task_id}").json()["data"]
        if data["task_status"] == "processing" and data["task_progress"] >= min_progress:
            return data
        assert data["task_status"] in ("submitted", "processing"), data
        time.sleep(0.05)
    raise AssertionError("task never reached processing")


def test_killed_server_finishes_task_once_after_restart(server_factory):
    server = server_factory(env=SLOW_ENV)
    task_id = server.request("POST", "/v1/videos/text2video", json=SLOW_BODY).json()["data"][
        "task_id"
    ]
    wait_processing(server, task_id)
    server.kill()  # SIGKILL: no shutdown code runs

    restarted = LiveServer(data_dir=server.data_dir, env=server.env, account=server.account)
    restarted.start()
    try:
        data = restarted.wait_task(task_id, timeout=120)
        assert data["task_status"] == "succeed", data["task_status_msg"]
        assert data["final_unit_deduction"] == "70"
        assert ledger(restarted, task_id) == [("charge", -70_000)]
        costs = restarted.request("GET", "/account/costs").json()["data"]
        assert costs["resource_pack_subscribe_infos"][0]["remaining_quantity"] == 1000 - 70
        assert "lease of" in restarted.log() and task_id in restarted.log()
    finally:
        restarted.stop()


def test_progress_rises_and_cancel_refunds(server_factory):
    server = server_factory(env=SLOW_ENV)
    task_id = server.request("POST", "/v1/videos/text2video", json=SLOW_BODY).json()["data"][
        "task_id"
    ]
    first = wait_processing(server, task_id)["task_progress"]
    later = wait_processing(server, task_id, min_progress=first + 1)["task_progress"]
    assert 0 < first < later < 100

    resp = server.request("POST", f"/v1/videos/text2video/{task_id}/cancel")
    assert resp.status_code == 200 and resp.json()["code"] == 0
    data = server.wait_task(task_id)
    assert data["task_status"] == "failed"
    assert "cancel" in data["task_status_msg"]
    assert data["final_unit_deduction"] == "0"
    assert ledger(server, task_id) == [("charge", -70_000), ("refund", 70_000)]
    costs = server.request("GET", "/account/costs").json()["data"]
    assert costs["resource_pack_subscribe_infos"][0]["remaining_quantity"] == 1000

    again = server.request("POST", f"/v1/videos/text2video/{task_id}/cancel")
    assert again.status_code == 400 and again.json()["code"] == 1201


def test_graceful_stop_hands_the_running_task_to_the_next_start(server_factory):
    # a lease far longer than the wait below: only the hand-back lets the restart take it
    env = {**SLOW_ENV, "OPENKLING_LEASE_SECONDS": "300", "OPENKLING_SHUTDOWN_GRACE_SECONDS": "0"}
    server = server_factory(env=env)
    task_id = server.request("POST", "/v1/videos/text2video", json=SLOW_BODY).json()["data"][
        "task_id"
    ]
    wait_processing(server, task_id)
    server.stop()  # SIGTERM: a graceful shutdown
    assert "handed back" in server.log()

    restarted = LiveServer(data_dir=server.data_dir, env=env, account=server.account)
    restarted.start()
    try:
        data = restarted.wait_task(task_id, timeout=120)
        assert data["task_status"] == "succeed", data["task_status_msg"]
        assert ledger(restarted, task_id) == [("charge", -70_000)]
        with sqlite3.connect(restarted.data_dir / "openkling.db") as db:
            (attempts,) = db.execute(
                "SELECT attempts FROM tasks WHERE id = ?", (task_id,)
            ).fetchone()
        assert attempts == 1  # the handed-back run does not count against max_attempts
    finally:
        restarted.stop()
