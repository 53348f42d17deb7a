"""Retention: result files older than OPENKLING_RETENTION_SECONDS are deleted by the server's
sweeper (or `openkling sweep`); the task stays `succeed`, its videos listed with no URL."""

from __future__ import annotations

import io
import sqlite3
import time

import av
import httpx

from support.server import cli

PATH = "/v1/videos/text2video"
EXPIRED_MSG = "the result files were deleted after the retention period"


def _files(server, task_id: str) -> list[str]:
    return sorted(p.name for p in (server.data_dir / "media" / "videos").glob(f"{task_id}-*"))


def _finished(server) -> tuple[str, dict]:
    task_id = server.request("POST", PATH, json={"prompt": "a paper boat"}).json()["data"][
        "task_id"
    ]
    data = server.wait_task(task_id)
    assert data["task_status"] == "succeed", data
    return task_id, data


def _is_mp4(content: bytes) -> bool:
    with av.open(io.BytesIO(content)) as container:
        return sum(1 for _ in container.decode(video=0)) > 0


def test_the_server_deletes_results_past_retention_and_marks_them_expired(app_factory):
    env = {"OPENKLING_RETENTION_SECONDS": "4", "OPENKLING_RETENTION_SWEEP_SECONDS": "0.5"}
    server = app_factory(env=env, socket=True)
    task_id, data = _finished(server)
    video = data["task_result"]["videos"][0]
    url, cover_url = video["url"], video["cover_url"]
    assert "expired" not in video
    assert _is_mp4(httpx.get(url, timeout=30).content)
    assert _files(server, task_id) == [f"{task_id}-1.jpg", f"{task_id}-1.mp4"]

    deadline = time.monotonic() + 60
    while True:
        data = server.request("GET", f"{PATH}/{task_id}").json()["data"]
        if data["task_result"]["videos"][0].get("expired"):
            break
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.2)

    assert data["task_status"] == "succeed" and data["task_progress"] == 100
    assert data["task_status_msg"] == EXPIRED_MSG
    assert data["task_result"]["videos"] == [
        {"id": video["id"], "url": "", "duration": video["duration"], "expired": True}
    ]
    assert data["final_unit_deduction"] == "10"  # kept: the task was delivered
    assert _files(server, task_id) == []
    assert httpx.get(url, timeout=30).status_code == 404
    assert httpx.get(cover_url, timeout=30).status_code == 404
    listed = server.request("GET", PATH).json()["data"]
    assert listed[0]["task_result"]["videos"][0]["expired"] is True
    with sqlite3.connect(server.data_dir / "openkling.db") as db:
        kinds = db.execute("SELECT kind FROM ledger WHERE task_id = ?", (task_id,)).fetchall()
    assert kinds == [("charge",)]  # no refund


def test_sweep_command_beside_a_running_server(app_factory):
    server = app_factory(socket=True)  # default retention: 30 days
    task_id, data = _finished(server)

    out = cli("sweep", data_dir=server.data_dir, env=server.env).stdout
    assert out.strip() == "expired 0 task(s) older than 2592000 s"
    assert len(_files(server, task_id)) == 2
    assert httpx.get(data["task_result"]["videos"][0]["url"], timeout=30).status_code == 200

    time.sleep(1.1)  # older than the one-second retention below
    out = cli(
        "sweep", data_dir=server.data_dir, env={**server.env, "OPENKLING_RETENTION_SECONDS": "1"}
    ).stdout
    assert out.strip() == "expired 1 task(s) older than 1 s"
    assert _files(server, task_id) == []
    video = server.request("GET", f"{PATH}/{task_id}").json()["data"]["task_result"]["videos"][0]
    assert video["url"] == "" and video["expired"] is True
    again = cli(
        "sweep", data_dir=server.data_dir, env={**server.env, "OPENKLING_RETENTION_SECONDS": "1"}
    ).stdout
    assert again.strip() == "expired 0 task(s) older than 1 s"


def _png_b64(width: int = 400, height: int = 320) -> str:
    import base64

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 90, 30)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_retention_removes_input_images_and_keeps_a_failure_s_reason(app_factory):
    # no worker: the image2video task stays submitted until it is cancelled, so it fails
    env = {
        "OPENKLING_RETENTION_SECONDS": "3",
        "OPENKLING_RETENTION_SWEEP_SECONDS": "0.5",
        "OPENKLING_WORKERS": "0",
    }
    server = app_factory(env=env, socket=True)
    inputs = server.data_dir / "media" / "inputs"
    path = "/v1/videos/image2video"
    made = server.request("POST", path, json={"image": _png_b64()}).json()["data"]
    server.request("POST", f"{path}/{made['task_id']}/cancel")
    assert [p for p in inputs.rglob("*") if p.is_file()]  # the image is stored with its task

    deadline = time.monotonic() + 60
    while [p for p in inputs.rglob("*") if p.is_file()]:
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.2)
    failed = server.wait_task(made["task_id"], path=path)
    assert failed["task_status"] == "failed"
    assert failed["task_status_msg"] == "task was cancelled"  # a failure keeps its reason
