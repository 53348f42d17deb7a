"""Kling's 2026 reads and webhook secrets on PostgreSQL (the migration, the row locks, the
batch and cursor queries), in-process over the app factory."""

from __future__ import annotations

from fastapi.testclient import TestClient

from openkling.api.app import create_app
from openkling.config import Settings
from openkling.tasks.accounts import create_account


def test_tasks_pages_and_secret_rotation_on_postgresql(pg_url, tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        database_url=pg_url,
        workers=0,
        rate_limit_per_minute=0,
        url_allow=["127.0.0.1/32"],  # the test callback goes to a closed loopback port
    )
    app = create_app(settings)
    with TestClient(app) as client:
        with app.state.runtime.sessions.begin() as s:
            key = create_account(s, credits_amount=100).secret_key
        client.headers["Authorization"] = f"Bearer {key}"
        ids = []
        for i in range(3):
            body = {"prompt": f"a lamp {i}", "options": {"external_task_id": f"pg-{i}"}}
            resp = client.post("/text-to-video/kling-2.6", json=body)
            assert resp.status_code == 200, resp.text
            ids.append(resp.json()["data"]["id"])

        got = client.get("/tasks", params={"external_task_ids": "pg-2,nope,pg-0"}).json()["data"]
        assert [r["id"] for r in got] == [ids[2], ids[0]]
        seen, cursor = [], None
        while True:
            body = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.post("/tasks", json=body).json()["data"]
            seen += [r["id"] for r in page["result"]]
            if not page["has_more"]:
                break
            cursor = page["next_cursor"]
        assert seen == ids[::-1]
        submitted = {"filters": [{"key": "status", "values": ["submitted"]}]}
        assert client.post("/tasks", json=submitted).json()["data"]["count"] == 3

        rotated = client.post("/account/webhooks/rotate", json={}).json()["data"]
        assert [s["state"] for s in rotated["secrets"]] == ["current", "previous"]
        gone = client.post("/account/webhooks/delete", json={"scope": "all"}).json()["data"]
        assert gone == {"signed": False, "secrets": []}
        url = {"callback_url": "http://127.0.0.1:9/hook"}
        assert client.post("/account/webhooks/test", json=url).status_code == 200
        assert client.post("/account/webhooks/test", json=url).status_code == 429
