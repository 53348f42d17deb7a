"""An embedded install becomes a scaled one with settings and `openkling db upgrade` only."""

from __future__ import annotations

import httpx

from .conftest import ApiServer, WorkerProcess, check_mp4, cli, sql


def _run_one(server, model: str = "kling-v1") -> dict:
    resp = server.request(
        "POST", "/v1/videos/text2video", json={"model_name": model, "prompt": "a paper boat"}
    )
    assert resp.status_code == 200, resp.text
    data = server.wait_task(resp.json()["data"]["task_id"], timeout=90)
    assert data["task_status"] == "succeed", data
    return data


def test_embedded_install_switches_to_scaled_with_settings_only(
    server_factory, scaled_env, tmp_path
):
    data_dir = tmp_path / "install"
    embedded = server_factory(data_dir=data_dir)  # SQLite, in-process worker, local files
    url = _run_one(embedded)["task_result"]["videos"][0]["url"]
    assert url.startswith(embedded.base_url + "/media/")
    embedded.stop()

    # the operator's steps: set the OPENKLING_* variables, create the schema, start the parts
    db = scaled_env["OPENKLING_DATABASE_URL"]
    assert sql(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    out = cli("db", "upgrade", data_dir=data_dir, env=scaled_env).stdout
    assert "database at revision" in out
    (revision,) = sql(db, "SELECT version_num FROM alembic_version")[0]
    assert revision in out
    tables = {name for (name,) in sql(db, "SELECT tablename FROM pg_tables")}
    assert {"accounts", "tasks", "ledger", "callbacks"} <= tables
    assert cli("db", "upgrade", data_dir=data_dir, env=scaled_env).stdout == out  # idempotent

    api = ApiServer(data_dir=data_dir, env=scaled_env)
    worker = WorkerProcess(  # two tasks at a time: one child process each
        data_dir=tmp_path / "gpu-host", env=scaled_env, models="kling-v1", concurrency=2
    )
    try:
        api.start()
        worker.start()
        data = _run_one(api)
        assert "2 at a time" in worker.log()
        url = data["task_result"]["videos"][0]["url"]
        assert url.startswith(scaled_env["OPENKLING_S3_ENDPOINT_URL"])
        assert check_mp4(httpx.get(url, timeout=30).content)["frames"] > 0
        assert sql(db, "SELECT status FROM tasks") == [("succeed",)]
    finally:
        worker.stop()
        api.stop()
