"""The test harness keeps its promises: a process a test starts dies with the test run, even
when pytest is killed; missing PostgreSQL or Redis fails a test instead of skipping it; the
in-process app answers like a server (docs/testing.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited already
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_a_spawned_process_dies_when_its_test_run_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            sys.path.insert(0, sys.argv[1])
            from support import processes
            child = processes.spawn([sys.executable, "-c", "import time; time.sleep(120)"])
            print(child.pid, flush=True)
            time.sleep(120)
            """
        )
    )
    parent = subprocess.Popen(
        [sys.executable, str(script), str(TESTS)], stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)  # as a killed pytest: no teardown, no atexit
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child):
            assert time.monotonic() < deadline, "the child outlived its killed parent"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.parametrize("fixture", ["pg_url", "broker_url"])
def test_missing_infrastructure_fails_rather_than_skips(tmp_path, fixture):
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            from support import infra
            from support.infra import broker_url, pg_url  # noqa: F401
            infra.PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:1/test"
            infra.REDIS_PORT = 1
            """
        )
    )
    (tmp_path / "test_needs.py").write_text(f"def test_needs({fixture}):\n    pass\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # plain pytest: no plugin is needed to see it
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout[-3000:]
    assert "1 error" in run.stdout and "skipped" not in run.stdout, run.stdout[-3000:]
    assert "is not reachable" in run.stdout


def test_the_in_process_app_and_a_gated_engine(app_factory, gated_engine):
    server = app_factory(engine=gated_engine)
    created = server.request("POST", "/v1/videos/text2video", json={"prompt": "a slow boat"})
    assert created.status_code == 200, created.text
    task_id = created.json()["data"]["task_id"]
    gated_engine.wait_started()
    deadline = time.monotonic() + 30
    while True:  # progress reaches the store with the lease's next report
        held = server.request("GET", f"/v1/videos/text2video/{task_id}").json()["data"]
        assert held["task_status"] == "processing", held
        if held["task_progress"] > 0:
            break
        assert time.monotonic() < deadline, held
        time.sleep(0.05)
    assert held["task_progress"] < 100  # held at the gate until released
    gated_engine.release()
    done = server.wait_task(task_id)
    assert done["task_status"] == "succeed"
    video = server.client.get(done["task_result"]["videos"][0]["url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert "accepted" in server.log()  # the app's own log lines are kept per server
