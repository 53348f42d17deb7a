"""Nothing is lost: a server killed mid-task finishes the task after a restart, charged once;
cancel stops a running task and refunds it; progress is reported while a task runs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

from support.engines import GatedEngine
from support.server import FAST_ENV, LiveServer, free_port

# Big enough that a task runs for a few seconds on this machine.
# 24 fps (not the suite's 12): a task long enough to be interrupted in its run
SLOW_ENV = {
    "OPENKLING_PRO_SHORT_SIDE": "720",
    "OPENKLING_X264_PRESET": "veryfast",
    "OPENKLING_FPS": "24",
}
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


def test_progress_rises_and_cancel_refunds(app_factory):
    engine = GatedEngine(at=0.25)  # the render stops a quarter of the way, then at 3/4
    server = app_factory(engine=engine)
    task_id = server.request("POST", "/v1/videos/text2video", json=SLOW_BODY).json()["data"][
        "task_id"
    ]
    engine.wait_started()
    first = wait_processing(server, task_id)["task_progress"]
    engine.advance(0.75)
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


def _lease(data_dir, task_id: str) -> tuple[str, int, str | None, int | None]:
    """(status, attempts, lease owner, lease expiry in ms) as stored."""
    with sqlite3.connect(data_dir / "openkling.db") as db:
        return db.execute(
            "SELECT status, attempts, lease_owner, lease_expires_at FROM tasks WHERE id = ?",
            (task_id,),
        ).fetchone()


def test_restart_after_kill_takes_the_interrupted_task_without_waiting_for_its_lease(
    server_factory,
):
    # a 30 s lease: only knowing that the last server is dead lets the restart take it early
    env = {**SLOW_ENV, "OPENKLING_LEASE_SECONDS": "30"}
    server = server_factory(env=env)
    task_id = server.request("POST", "/v1/videos/text2video", json=SLOW_BODY).json()["data"][
        "task_id"
    ]
    wait_processing(server, task_id)
    server.kill()  # SIGKILL: no hand-back, the lease stays in the store
    status, attempts, dead_owner, dead_lease_end = _lease(server.data_dir, task_id)
    assert (status, attempts) == ("processing", 1)
    # the killed run's scratch folder stays behind (the encoder writes .part files there)
    scratch = server.data_dir / "tmp"
    left = [p for p in scratch.iterdir() if p.name.startswith(f"{task_id}~")]
    assert len(left) == 1 and f"~{server.proc.pid}~" in left[0].name, left
    (left[0] / ".video.mp4.0123456789ab.part").write_bytes(b"half an mp4")

    restarted = LiveServer(data_dir=server.data_dir, env=env, account=server.account)
    launched = time.monotonic()
    restarted.start()
    serving = time.monotonic()
    try:
        deadline = time.monotonic() + 60
        while True:  # polls the store until another run holds the task
            status, attempts, owner, lease_end = _lease(server.data_dir, task_id)
            if attempts == 2:
                break
            assert time.monotonic() < deadline, restarted.log()
            time.sleep(0.02)
        running = time.monotonic()
        assert owner != dead_owner and status in ("processing", "succeed")
        if status == "processing":  # the new lease began before the dead one would have ended
            assert lease_end - 30_000 < dead_lease_end, (lease_end, dead_lease_end)
        assert "stopped without handing back 1 running task(s)" in restarted.log()
        print(
            f"\nrestart -> running again: {running - launched:.2f} s from launch, "
            f"{running - serving:.2f} s after the server answered"
        )
        assert not left[0].exists()  # gone at the restart, not an hour later
        data = restarted.wait_task(task_id, timeout=120)
        assert data["task_status"] == "succeed", data["task_status_msg"]
        assert ledger(restarted, task_id) == [("charge", -70_000)]
        assert list(scratch.iterdir()) == []
    finally:
        restarted.stop()


def test_a_second_server_on_the_same_data_dir_refuses_to_start(server_factory):
    server = server_factory()
    env = {**os.environ, **FAST_ENV, "OPENKLING_DATA_DIR": str(server.data_dir)}
    second = subprocess.run(
        [sys.executable, "-m", "openkling", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 3
    assert f"is in use by another openkling server (pid {server.proc.pid}" in second.stderr
    assert server.base_url in second.stderr and "--no-worker" in second.stderr
    # `generate` with no server named says which one to use instead of starting its own
    generate = subprocess.run(
        [sys.executable, "-m", "openkling", "generate", "a kite", "-o", os.devnull],
        env={k: v for k, v in env.items() if not k.startswith("KLING_")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert generate.returncode != 0 and "--base-url" in generate.stderr, generate.stderr
    # the first server is unharmed, and admin commands work beside it
    other = server.new_account(credits=5)
    resp = server.request("GET", "/v1/videos/text2video", account=other)
    assert resp.status_code == 200
