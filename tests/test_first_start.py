"""A clean first start: `openkling serve` takes its port before it creates an account or
prints keys, and start-up failures a user can fix are one line with a distinct exit code
(3 data dir in use, 4 cannot listen, 6 an extra missing, 7 a bad profile), the traceback
only with --debug. Real `openkling serve` / `openkling worker` processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from support import processes
from support.server import FAST_ENV, free_port


def openkling(*args: str, data_dir: Path, env: dict[str, str] | None = None, timeout: float = 90):
    """Run ``openkling ARGS`` to its exit: (exit code, stdout + stderr)."""
    full = {**os.environ, **FAST_ENV, **(env or {}), "OPENKLING_DATA_DIR": str(data_dir)}
    proc = processes.spawn(
        [sys.executable, "-m", "openkling", *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        processes.stop(proc)
    return proc.returncode, out


def error_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("error:")]


def test_a_busy_port_creates_no_account_and_prints_no_key(tmp_path):
    port = free_port()
    data_dir = tmp_path / "data"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        code, out = openkling("serve", "--port", str(port), data_dir=data_dir)
    assert code == 4, out
    assert error_lines(out) == [
        f"error: cannot listen on 127.0.0.1:{port}: address already in use: another process "
        "listens there; choose a free port (--port, OPENKLING_PORT)"
    ]
    assert "KLING_SECRET_KEY" not in out and "Traceback" not in out
    assert not data_dir.exists() or not any(data_dir.iterdir()), "a failed start wrote files"

    # the port is free again: the same data dir still gets its first start, keys and all
    env = {**os.environ, **FAST_ENV, "OPENKLING_DATA_DIR": str(data_dir)}
    log = tmp_path / "serve.log"
    with open(log, "w") as sink:
        proc = processes.spawn(
            [sys.executable, "-m", "openkling", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "serving on http" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert "export KLING_SECRET_KEY=sk" in log.read_text()
    finally:
        processes.stop(proc)


def test_a_bad_profile_is_one_line_naming_file_model_and_fix(tmp_path):
    profile = tmp_path / "profiles.toml"
    profile.write_text('[models."kling-v1"]\nengine = "diffusers"\nfamily = "wann"\n')
    env = {"OPENKLING_PROFILES_FILE": str(profile)}
    code, out = openkling("serve", "--port", str(free_port()), data_dir=tmp_path, env=env)
    assert code == 7, out
    assert "Traceback" not in out
    [line] = error_lines(out)
    assert str(profile) in line and '[models."kling-v1"]' in line
    assert "expected one of wan, wan2.2, ltx" in line  # the fix: the families there are
    assert out.rstrip().endswith(line)

    code, out = openkling(
        "serve", "--debug", "--port", str(free_port()), data_dir=tmp_path, env=env
    )
    assert code == 7
    assert "Traceback (most recent call last)" in out and "ProfileError" in out
    assert out.rstrip().endswith(line)


def test_a_missing_extra_names_the_pip_install_to_run(tmp_path):
    # a Python where celery is not installed: an import of it fails as it would there
    shadow = tmp_path / "shadow" / "celery"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'celery'\", name='celery')\n"
    )
    path = os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])
    env = {"PYTHONPATH": path}

    code, out = openkling("worker", "--models", "kling-v1", data_dir=tmp_path, env=env)
    assert code == 6, out
    assert "Traceback" not in out
    assert error_lines(out) == [
        "error: openkling worker needs the scale extra (celery is not installed): "
        "pip install -e '.[scale]' (from the openkling checkout)"
    ]

    env["OPENKLING_DISPATCHER"] = "celery"
    code, out = openkling("serve", "--port", str(free_port()), data_dir=tmp_path, env=env)
    assert code == 6, out
    assert "Traceback" not in out and "KLING_SECRET_KEY" not in out
    assert error_lines(out) == [
        "error: openkling serve needs the scale extra (celery is not installed): "
        "pip install -e '.[scale]' (from the openkling checkout)"
    ]
