"""`openkling generate` and `openkling tasks` against a real server, and with no server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from openkling.cli.client import parse_camera
from openkling.cli.main import main

from .conftest import assert_playable_mp4, closed_port_url


def run(server, *args: str, secret_key: str | None = None, base_url: str | None = None):
    env = {
        "KLING_BASE_URL": None,
        "KLING_ACCESS_KEY": server.access_key,
        "KLING_SECRET_KEY": secret_key or server.secret_key,
        "KLING_API_KEY": None,
    }
    if base_url is not None:
        env["KLING_BASE_URL"] = base_url
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_generate_writes_a_playable_mp4_and_the_tasks_commands_see_it(live_server, tmp_path):
    out = tmp_path / "storm.mp4"
    result = run(
        live_server,
        "generate",
        "a lighthouse in a storm",
        "-o",
        str(out),
        "--base-url",
        live_server.base_url,
        "--mode",
        "std",
        "--duration",
        "5",
        "--camera",
        "zoom=3",
        "--poll-interval",
        "0.1",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "succeed" in result.stderr  # the progress display
    assert_playable_mp4(out, seconds=5.0)

    listed = run(live_server, "tasks", "list", "--json", base_url=live_server.base_url)
    assert listed.exit_code == 0, listed.output
    task = json.loads(listed.stdout)[0]
    assert task["task_status"] == "succeed"
    task_id = task["task_id"]

    got = run(live_server, "tasks", "get", task_id, base_url=live_server.base_url + "/v1")
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout)["task_result"]["videos"][0]["duration"] == "5.0"

    table = run(live_server, "tasks", "list", base_url=live_server.base_url)
    assert table.exit_code == 0 and task_id in table.stdout

    waited = run(live_server, "tasks", "wait", task_id, base_url=live_server.base_url)
    assert waited.exit_code == 0, waited.output
    assert waited.stdout.startswith(f"{task_id} succeed http")

    again = tmp_path / "again.mp4"
    fetched = run(
        live_server, "tasks", "download", task_id, "-o", str(again), base_url=live_server.base_url
    )
    assert fetched.exit_code == 0, fetched.output
    assert again.read_bytes() == out.read_bytes()


def test_get_by_external_id(live_server, tmp_path):
    result = run(
        live_server,
        "generate",
        "a harbour at dawn",
        "--external-task-id",
        "cli-ext-1",
        "-o",
        str(tmp_path),
        base_url=live_server.base_url,
    )
    assert result.exit_code == 0, result.output
    got = run(live_server, "tasks", "get", "--external", "cli-ext-1", base_url=live_server.base_url)
    assert got.exit_code == 0, got.output
    task = json.loads(got.stdout)
    assert task["task_info"] == {"external_task_id": "cli-ext-1"}
    assert result.stdout.strip() == str(tmp_path / f"{task['task_id']}.mp4")


@pytest.mark.parametrize(
    ("args", "code", "prefix"),
    [
        (["tasks", "list"], 3, "error: authentication failed:"),
        (["tasks", "get", "000000000000000000"], 5, "error: not found:"),
        (["generate", "x", "--cfg-scale", "5"], 4, "error: invalid request:"),
        (["generate", "x", "--duration", "7"], 4, "error: invalid request: duration:"),
        (["generate", "x", "--duration", "16"], 2, "Usage:"),
        (["generate", "x", "--camera", "zoom=3", "--camera", "down_back"], 2, "Usage:"),
    ],
)
def test_error_exit_codes_and_one_line_messages(live_server, args, code, prefix):
    secret = "sk-wrong-0123456789abcdef0123456789" if code == 3 else None
    result = run(live_server, *args, secret_key=secret, base_url=live_server.base_url)
    assert result.exit_code == code, result.output
    if code == 2:  # a usage error: nothing was sent anywhere
        assert result.stderr.startswith(prefix)
        return
    # one line naming the server, one line for the error
    server_line, error_line = result.stderr.strip().splitlines()
    assert server_line.startswith(f"openkling: server {live_server.base_url}")
    assert error_line.startswith(prefix)


def test_an_unreachable_server_exits_11(live_server):
    url = closed_port_url()
    result = run(live_server, "tasks", "list", base_url=url)
    assert result.exit_code == 11
    server_line, error_line = result.stderr.strip().splitlines()
    assert server_line == f"openkling: server {url}"  # the host it talks to, always said
    assert error_line.startswith("error: cannot connect:")


def test_missing_credentials_exit_3(monkeypatch):
    for name in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["tasks", "list", "--base-url", "http://127.0.0.1:9"])
    assert result.exit_code == 3
    assert "KLING_ACCESS_KEY" in result.stderr


def test_camera_option_parsing():
    assert parse_camera(()) is None
    assert parse_camera(("zoom=3",)) == {"type": "simple", "config": {"zoom": 3}}
    assert parse_camera(("pan=-2.5", "tilt=1")) == {
        "type": "simple",
        "config": {"pan": -2.5, "tilt": 1},
    }
    assert parse_camera(("forward_up",)) == {"type": "forward_up"}
    for bad in (("spin=3",), ("zoom=fast",), ("sideways",), ("down_back", "forward_up")):
        with pytest.raises(click.BadParameter):
            parse_camera(bad)


def test_no_server_named_sends_nothing(monkeypatch):
    """No --base-url, no KLING_BASE_URL, no --official: keys go nowhere; the message says what
    to name."""
    monkeypatch.delenv("KLING_BASE_URL", raising=False)
    env = {"KLING_ACCESS_KEY": "ak-test", "KLING_SECRET_KEY": "sk-test", "KLING_BASE_URL": None}
    for args in (["tasks", "list"], ["tasks", "get", "1"], ["tasks", "cancel", "1"]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 2, result.output
        assert "--base-url" in result.stderr and "--official" in result.stderr
        assert "openkling: server" not in result.stderr
    both = ["tasks", "list", "--official", "--base-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(main, both, env=env)
    assert result.exit_code == 2 and "give one" in result.stderr


def test_local_generation_ignores_kling_base_url_and_says_so(live_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLING_", "OPENKLING_"))} | {
        "OPENKLING_DATA_DIR": str(tmp_path / "data"),
        "OPENKLING_STD_SHORT_SIDE": "144",
        "OPENKLING_X264_PRESET": "ultrafast",
        "KLING_BASE_URL": "http://127.0.0.1:9",  # exported earlier in the shell: not used
    }
    out = tmp_path / "local.mp4"
    args = [sys.executable, "-m", "openkling", "generate", "a fox", "--local", "-o", str(out)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == (
        "openkling: generating in-process, no server (KLING_BASE_URL ignored)"
    )
    assert_playable_mp4(out, seconds=5.0)
    # without --local, the exported URL is the server, and the first line says so
    result = run(live_server, "generate", "x", "--cfg-scale", "5", base_url=live_server.base_url)
    assert result.stderr.splitlines()[0] == (
        f"openkling: server {live_server.base_url} "
        "(from KLING_BASE_URL; --local generates in this process)"
    )
    bad = run(live_server, "generate", "x", "--local", "--base-url", live_server.base_url)
    assert bad.exit_code == 2 and "--local" in bad.stderr


def test_help_shows_defaults_and_every_option():
    generate = CliRunner().invoke(main, ["generate", "--help"]).output
    for shown in (
        "default: (kling-v1)",
        "default: (std)",
        "default: (5)",
        "default: (16:9)",
        "default: (0.5)",
        "--local",
        "--official",
        "--access-key",
        "--secret-key",
        "--api-key",
        "env var: KLING_BASE_URL",
        "env var: KLING_SECRET_KEY",
    ):
        assert shown in " ".join(generate.split()), shown
    serve = " ".join(CliRunner().invoke(main, ["serve", "--help"]).output.split())
    assert "TLS certificate chain (PEM)" in serve and "Private key (PEM)" in serve
    keys = " ".join(CliRunner().invoke(main, ["keys", "create", "--help"]).output.split())
    assert "default: ($OPENKLING_DEFAULT_CREDITS, 1000)" in keys
    worker = " ".join(CliRunner().invoke(main, ["worker", "--help"]).output.split())
    assert "--metrics-port" in worker


def test_generate_with_no_server_runs_in_process(tmp_path):
    """No --base-url and no KLING_BASE_URL: the command starts its own server in-process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLING_", "OPENKLING_"))} | {
        "OPENKLING_DATA_DIR": str(tmp_path / "data"),
        "OPENKLING_STD_SHORT_SIDE": "144",
        "OPENKLING_X264_PRESET": "ultrafast",
    }
    out = tmp_path / "embedded.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "openkling", "generate", "a lighthouse in a storm", "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert "in-process" in proc.stderr
    width, height = assert_playable_mp4(out, seconds=5.0)
    assert (width, height) == (256, 144)
