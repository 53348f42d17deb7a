"""No file outlives its task: a delete that lands while the first spritesheet is being made
leaves no sheet behind, and a run that lost its lease removes the files it wrote."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import openkling.tasks.service as service_module


def _files(data_dir: Path) -> list[Path]:
    root = data_dir / "media"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_delete_racing_the_first_spritesheet_leaves_no_file(
    app_factory, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    server = app_factory()
    auth = {"Authorization": f"Bearer {server.secret_key}"}
    created = server.request("POST", "/v1/videos", json={"prompt": "a red wall"}, headers=auth)
    assert created.status_code == 200, created.text
    video_id = created.json()["id"]
    deadline = time.monotonic() + 120
    while server.request("GET", f"/v1/videos/{video_id}", headers=auth).json()["status"] != (
        "completed"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    real = service_module.make_spritesheet
    deleted: list[int] = []

    def delete_meanwhile(data: bytes) -> bytes:  # the delete lands while the sheet is made
        sheet = real(data)
        deleted.append(server.request("DELETE", f"/v1/videos/{video_id}", headers=auth).status_code)
        return sheet

    monkeypatch.setattr(service_module, "make_spritesheet", delete_meanwhile)
    content = server.request(
        "GET", f"/v1/videos/{video_id}/content?variant=spritesheet", headers=auth
    )
    assert deleted == [200]
    assert content.status_code == 404, content.text
    assert _files(server.data_dir) == []


def test_a_spritesheet_is_made_once_and_removed_with_its_video(app_factory) -> None:  # type: ignore[no-untyped-def]
    server = app_factory()
    auth = {"Authorization": f"Bearer {server.secret_key}"}
    video_id = server.request(
        "POST", "/v1/videos", json={"prompt": "a red wall"}, headers=auth
    ).json()["id"]
    deadline = time.monotonic() + 120
    while server.request("GET", f"/v1/videos/{video_id}", headers=auth).json()["status"] != (
        "completed"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    path = f"/v1/videos/{video_id}/content?variant=spritesheet"
    first = server.request("GET", path, headers=auth)
    assert first.status_code == 200 and first.content[:3] == b"\xff\xd8\xff"
    assert any(p.name.endswith("-sprite.jpg") for p in _files(server.data_dir))
    assert server.request("GET", path, headers=auth).content == first.content
    assert server.request("DELETE", f"/v1/videos/{video_id}", headers=auth).status_code == 200
    assert _files(server.data_dir) == []
