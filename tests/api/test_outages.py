"""Outages are conditions, not crashes: a database that went away or a full disk is answered
503 / 5001 with ``Retry-After`` and ``Connection: close`` (a client on keep-alive gets the
answer, then a clean close, never a reset), ``/readyz`` names the part that is down without
an address, and the service recovers by itself when the part returns."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pictures import png_b64
from support.harness import AppServer
from support.infra import pg_admin

T2V = "/v1/videos/text2video"
I2V = "/v1/videos/image2video"


def test_a_database_outage_is_503_and_keep_alive_survives(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {"OPENKLING_DATABASE_URL": pg_url, "OPENKLING_WORKERS": "0"}
    with AppServer(socket=True, data_dir=tmp_path_factory.mktemp("db-out"), env=env) as server:
        headers = server.headers()
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            assert client.get(T2V, headers=headers).status_code == 200
            with pg_admin() as conn:  # the database goes away under the server
                conn.execute(f'DROP DATABASE "{pg_url.rsplit("/", 1)[1]}" WITH (FORCE)')
            down = client.get(T2V, headers=headers)
            assert down.status_code == 503, down.text
            assert down.json()["code"] == 5001
            assert "database" in down.json()["message"]
            assert down.headers["Retry-After"] == "1"
            assert down.headers["Connection"] == "close"
            # the same client goes on: the server closed cleanly after its answer
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "error"
            assert ready.json()["checks"]["storage"] == "ok"
            assert "127.0.0.1" not in ready.text and "5432" not in ready.text
            time.sleep(2)  # the background loops meet the outage too
        log = server.log()
        assert "unhandled error" not in log, log[-3000:]
        assert "answered 503: the database is unavailable" in log
        # each loop says it once, without a traceback, and backs off
        assert log.count("callback sender failing") == 1, log[-3000:]
        assert "Traceback" not in log, log[-3000:]


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


@pytest.fixture
def small_media(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose media folder is a 4 MB tmpfs (root only: CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs the suite as root)")
    media = tmp_path / "data" / "media"
    try:
        _mount_tmpfs(media, "4m")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"this system cannot mount a tmpfs here: {exc}")
    yield tmp_path / "data"
    subprocess.run(["umount", "-l", str(media)], check=False)


def _fill(media: Path) -> Path:
    filler = media / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_503_storage_full_and_recovers(small_media: Path) -> None:
    env = {"OPENKLING_WORKERS": "0", "OPENKLING_RATE_LIMIT_PER_MINUTE": "0"}
    with AppServer(socket=True, data_dir=small_media, env=env) as server:
        filler = _fill(small_media / "media")
        body = {"image": png_b64(400, 400)}
        full = server.request("POST", I2V, json=body)
        assert full.status_code == 503, full.text
        assert full.json()["code"] == 5001
        assert "storage full" in full.json()["message"]
        assert full.headers["Retry-After"] == "1"
        assert server.request("GET", f"{I2V}?pageSize=10").json()["data"] == []
        ready = server.request("GET", "/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["storage"] == "error"
        assert ready.json()["checks"]["database"] == "ok"

        filler.unlink()  # space returns: nothing to restart
        assert server.request("GET", "/readyz").status_code == 200
        created = server.request("POST", I2V, json=body)
        assert created.status_code == 200, created.text


def test_a_task_that_cannot_write_its_result_fails_saying_so_and_is_refunded(
    small_media: Path,
) -> None:
    with AppServer(data_dir=small_media, env={"OPENKLING_RATE_LIMIT_PER_MINUTE": "0"}) as server:
        before = server.request("GET", "/account/costs").json()["data"]["balance"]
        filler = _fill(small_media / "media")
        created = server.request("POST", T2V, json={"prompt": "a red fox in the snow"})
        assert created.status_code == 200, created.text
        task = server.wait_task(created.json()["data"]["task_id"])
        assert task["task_status"] == "failed"
        assert "storage full" in task["task_status_msg"]
        after = server.request("GET", "/account/costs").json()["data"]["balance"]
        assert after == before
        filler.unlink()
        again = server.request("POST", T2V, json={"prompt": "a red fox in the snow"})
        assert server.wait_task(again.json()["data"]["task_id"])["task_status"] == "succeed"


def test_a_500_closes_the_connection_cleanly(app_factory, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    server = app_factory(socket=True)

    def bug(*args: object, **kwargs: object) -> None:
        raise KeyError("a fault of the server's own")

    monkeypatch.setattr(server.runtime.service, "get", bug)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        broken = client.get(f"{T2V}?external_task_id=x", headers=server.headers())
        assert broken.status_code == 500
        assert broken.json()["code"] == 5000
        assert "a fault" not in broken.text  # no exception text reaches a client
        assert broken.headers["Connection"] == "close"
        # the next request on the same client is answered, not reset
        assert client.get(T2V, headers=server.headers()).status_code == 200
