"""Scratch folders a killed run leaves (encoder .part files) are removed as soon as their
process is known dead or their task is claimed again, not only when they are old."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from openkling.config import Settings
from openkling.runtime import build_runtime

from .fakes import ScriptedEngine, make_world


@pytest.fixture
def pids():
    """A pid of a running process and one of a process that has exited (both this host's)."""
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    yield live.pid, gone.pid
    live.kill()
    live.wait()


def _leftover(root, task_id: str, host: str, pid: int):
    """A run's folder as a killed process leaves it: an encoder .part file inside, fresh."""
    folder = root / f"{task_id}~{host}~{pid}~abc123"
    folder.mkdir(parents=True)
    (folder / ".video.mp4.0123456789ab.part").write_bytes(b"half an mp4")
    return folder


def test_folders_of_dead_processes_go_at_start(tmp_path, pids):
    live_pid, dead_pid = pids
    host = socket.gethostname()
    root = tmp_path / "tmp"
    dead = _leftover(root, "100", host, dead_pid)
    live = _leftover(root, "200", host, live_pid)
    elsewhere = _leftover(root, "300", "another-host", dead_pid)  # can't tell: kept a while

    runtime = build_runtime(Settings(data_dir=tmp_path), callbacks=False)
    try:
        assert not dead.exists()
        assert live.exists() and elsewhere.exists()
    finally:
        runtime.stop()


def test_claiming_a_task_removes_its_earlier_attempts_folders(tmp_path, pids):
    live_pid, _ = pids
    world = make_world(tmp_path, ScriptedEngine())
    task_id, other_id = world.create(), world.create()
    root = world.settings.data_dir / "tmp"
    host = socket.gethostname()
    # a lost run of this task whose process still lives, and another task's running folder
    earlier = _leftover(root, task_id, host, live_pid)
    running = _leftover(root, other_id, host, live_pid)

    world.worker.run(task_id)
    assert world.task(task_id).status == "succeed"
    assert not earlier.exists()
    assert [p.name for p in root.iterdir()] == [running.name]  # the run removed its own too
