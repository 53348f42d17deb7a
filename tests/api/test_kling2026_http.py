"""Kling's 2026 API against a real server: a client written from Kling's current docs creates
text-to-video (kling-3.0 multi-shot through the prompt syntax) and image-to-video (kling-2.6,
first and last frame) tasks, finds them through GET /tasks and POST /tasks, and receives
callbacks in the new body, verified with the `standardwebhooks` package through a secret
rotation, an emergency rotation and a delete-all."""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from pictures import b64, encode, gradient
from support.harness import AppServer
from support.server import cli
from support.webhooks import Receiver


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("kling2026"), env={})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bystander(server):
    """An account that makes no task: what refused requests must leave as it was."""
    return server.new_account(credits=50)


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver(status=200)
    yield receiver
    receiver.stop()


def api_key(account) -> dict[str, str]:
    """Kling's 2026 auth: the API key itself as the bearer."""
    return {"Authorization": f"Bearer {account.secret_key}", "Content-Type": "application/json"}


def call(server: AppServer, method: str, path: str, account=None, **kw) -> httpx.Response:
    return server.request(method, path, headers=api_key(account or server.account), **kw)


def wait_record(server: AppServer, task_id: str, account=None, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = call(server, "GET", f"/tasks?task_ids={task_id}", account)
        assert resp.status_code == 200, resp.text
        (record,) = resp.json()["data"]
        if record["status"] in ("succeeded", "failed"):
            return record
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish:\n{server.log()[-3000:]}")


def frames_of(server: AppServer, url: str, path: Path) -> tuple[list[np.ndarray], float]:
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200
    path.write_bytes(resp.content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        frames = [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(stream)]
    return frames, fps


def verify(secret: str, body: bytes, headers: dict[str, str]) -> dict:
    return Webhook(secret).verify(body, headers)


def test_kling_3_multi_shot_from_the_prompt_syntax(server, receiver, tmp_path):
    body = {
        "prompt": "shot 1, 2, a red lighthouse at dawn; shot 2, 3, a fishing boat in the fog;",
        "settings": {"duration": 5, "aspect_ratio": "9:16", "resolution": "720p"},
        "options": {
            "callback_url": receiver.url,
            "external_task_id": "k26-multi-shot",
            "watermark_info": {"enabled": False},
        },
    }
    resp = call(server, "POST", "/text-to-video/kling-3.0", json=body)
    assert resp.status_code == 200, resp.text
    created = resp.json()
    assert created["code"] == 0 and created["message"] == "SUCCEED" and created["request_id"]
    data = created["data"]
    assert data["status"] == "submitted" and data["external_id"] == "k26-multi-shot"
    assert set(data) == {"id", "status", "create_time", "update_time", "external_id"}

    record = wait_record(server, data["id"])
    assert record["status"] == "succeeded", record
    assert record["message"] == "" and record["external_id"] == "k26-multi-shot"
    assert record["billing"] == [{"charge_type": "unit", "amount": "10", "package_type": "video"}]
    (video,) = record["outputs"]
    assert video["type"] == "video" and video["watermark_url"] == ""
    assert abs(float(video["duration"]) - 5.0) <= 0.1

    frames, fps = frames_of(server, video["url"], tmp_path / "v.mp4")
    assert abs(len(frames) / fps - 5.0) <= 0.1
    height, width = frames[0].shape[:2]
    assert abs(width / height - 9 / 16) < 0.05  # the asked aspect
    change = [np.abs(b - a).mean() for a, b in zip(frames, frames[1:], strict=False)]
    cut = int(np.argmax(change)) + 1  # the first frame of the second shot
    assert abs(cut - 2.0 * fps) <= 1, (cut, fps)
    others = change[: cut - 2] + change[cut + 1 :]
    assert change[cut - 1] > 3 * max(others)  # a hard cut

    # the callbacks carry the new body, signed with the account's webhook secret
    raw, headers = receiver.wait(lambda p: p.get("id") == data["id"] and p["status"] == "succeeded")
    payload = verify(server.webhook_secret, raw, headers)
    assert payload["outputs"][0]["duration"] == video["duration"]
    assert payload["billing"] == record["billing"]
    assert "task_id" not in payload and "task_status" not in payload


def test_kling_2_6_first_and_last_frame(server, tmp_path):
    first, last = gradient(640, 360, seed=1), gradient(640, 360, seed=2)[::-1].copy()
    body = {
        "contents": [
            {"type": "prompt", "text": "the view turns slowly"},
            {"type": "first_frame", "url": b64(encode(first))},
            {"type": "last_frame", "url": b64(encode(last))},
        ],
        "settings": {"duration": 5, "resolution": "1080p"},
    }
    resp = call(server, "POST", "/image-to-video/kling-2.6", json=body)
    assert resp.status_code == 200, resp.text
    record = wait_record(server, resp.json()["data"]["id"])
    assert record["status"] == "succeeded", record
    (video,) = record["outputs"]
    assert abs(float(video["duration"]) - 5.0) <= 0.1
    frames, fps = frames_of(server, video["url"], tmp_path / "i.mp4")
    height, width = frames[0].shape[:2]
    assert abs(width / height - 16 / 9) < 0.05  # the picture's aspect
    assert abs(len(frames) / fps - 5.0) <= 0.1
    assert record["billing"][0]["amount"] == "35"  # 1080p is made at the pro sizes and price


def test_get_tasks_batch_shows_own_2026_tasks_only(server):
    other = server.new_account(credits=100)
    mine = [
        call(server, "POST", "/text-to-video/kling-2.6", json={"prompt": f"a kite {i}"})
        for i in range(2)
    ]
    ids = [r.json()["data"]["id"] for r in mine]
    theirs = call(server, "POST", "/text-to-video/kling-2.6", other, json={"prompt": "x"})
    legacy = server.request("POST", "/v1/videos/text2video", json={"prompt": "a legacy kite"})
    asked = [ids[1], "123456789012345678", theirs.json()["data"]["id"], ids[0]]
    asked.append(legacy.json()["data"]["task_id"])
    resp = call(server, "GET", "/tasks?task_ids=" + ",".join(asked))
    assert resp.status_code == 200
    assert [r["id"] for r in resp.json()["data"]] == [ids[1], ids[0]]  # in the order asked

    by_external = call(server, "GET", "/tasks?external_task_ids=k26-multi-shot,nope")
    assert [r["external_id"] for r in by_external.json()["data"]] == ["k26-multi-shot"]

    both = call(server, "GET", f"/tasks?task_ids={ids[0]}&external_task_ids=x")
    assert both.status_code == 400 and both.json()["code"] == 1201
    assert both.json()["message"].startswith("task_ids:")
    # the legacy door does not show 2026 tasks either
    assert server.request("GET", f"/v1/videos/text2video/{ids[0]}").status_code == 404


def test_post_tasks_pages_by_cursor_across_a_create(server):
    account = server.new_account(credits=1000)
    made = []
    for i in range(5):
        resp = call(
            server, "POST", "/text-to-video/kling-3.0", account,
            json={"prompt": f"a paper plane {i}", "settings": {"duration": 3}},
        )  # fmt: skip
        made.append(resp.json()["data"]["id"])
    for task_id in made:
        wait_record(server, task_id, account)

    seen: list[str] = []
    page = call(server, "POST", "/tasks", account, json={"limit": 2}).json()["data"]
    assert page["count"] == 2 and page["has_more"] is True and page["next_cursor"]
    seen += [r["id"] for r in page["result"]]
    newcomer = call(server, "POST", "/text-to-video/kling-3.0", account, json={"prompt": "new"})
    newcomer_id = newcomer.json()["data"]["id"]
    while page["has_more"]:
        body = {"cursor": page["next_cursor"], "limit": 2}
        page = call(server, "POST", "/tasks", account, json=body).json()["data"]
        seen += [r["id"] for r in page["result"]]
    assert seen == sorted(made, reverse=True)  # newest first, each once, the newcomer not
    assert page["next_cursor"] == ""

    def ids(body: dict) -> list[str]:
        resp = call(server, "POST", "/tasks", account, json=body)
        assert resp.status_code == 200, resp.text
        return [r["id"] for r in resp.json()["data"]["result"]]

    assert ids({})[0] == newcomer_id  # a fresh query starts at the newest
    done = {"filters": [{"key": "status", "values": ["succeeded"]}]}
    assert set(made) <= set(ids(done))
    assert ids({"filters": [{"key": "status", "values": ["failed"]}]}) == []
    assert ids({"filters": [{"key": "product_type", "values": ["image"]}]}) == []
    later = str(int(time.time() * 1000) + 60_000)  # a window after every task (as a string)
    assert ids({"start_time": later, "end_time": int(later) + 1000}) == []
    bad = call(server, "POST", "/tasks", account, json={"limit": 501})
    assert bad.status_code == 400 and bad.json()["message"].startswith("limit:")


def test_secret_rotation_delete_all_and_test_callback(server, receiver):
    account = server.new_account(credits=100)
    old = account.webhook_secret

    def callback_for(account) -> tuple[bytes, dict[str, str]]:
        body = {"prompt": "a bell", "options": {"callback_url": receiver.url}}
        resp = call(server, "POST", "/text-to-video/kling-2.5-turbo", account, json=body)
        task_id = resp.json()["data"]["id"]
        return receiver.wait(lambda p: p.get("id") == task_id)

    rotated = call(server, "POST", "/account/webhooks/rotate", account, json={}).json()["data"]
    new = rotated["secrets"][0]["secret"]
    assert [s["state"] for s in rotated["secrets"]] == ["current", "previous"]
    body, headers = callback_for(account)
    assert len(headers["webhook-signature"].split(" ")) == 2  # both sign during the grace
    assert verify(old, body, headers)["status"] == "submitted"
    assert verify(new, body, headers)["status"] == "submitted"

    # emergency rotation: the old secrets are dead at once (through the CLI this time)
    out = cli(
        "webhooks", "rotate", account.access_key, "--emergency", "--json",
        data_dir=server.data_dir,
    )  # fmt: skip
    newest = json.loads(out.stdout)["secrets"]
    assert len(newest) == 1
    body, headers = callback_for(account)
    assert verify(newest[0]["secret"], body, headers)
    for dead in (old, new):
        with pytest.raises(WebhookVerificationError):
            verify(dead, body, headers)

    gone = call(server, "POST", "/account/webhooks/delete", account, json={"scope": "all"})
    assert gone.json()["data"] == {"signed": False, "secrets": []}
    body, headers = callback_for(account)
    assert not {"webhook-id", "webhook-timestamp", "webhook-signature"} & set(headers)

    call(server, "POST", "/account/webhooks/rotate", account, json={"type": "emergency"})
    secret = call(server, "GET", "/account/webhooks", account).json()["data"]["secrets"][0]
    test = call(
        server, "POST", "/account/webhooks/test", account, json={"callback_url": receiver.url}
    )
    assert test.status_code == 200, test.text
    sent = test.json()["data"]
    assert sent["status"] == "submitted" and sent["outputs"] == [] and sent["message"] == ""
    body, headers = receiver.wait(lambda p: p.get("id") == sent["id"])
    assert verify(secret["secret"], body, headers) == sent
    again = call(
        server, "POST", "/account/webhooks/test", account, json={"callback_url": receiver.url}
    )
    assert again.status_code == 429 and again.json()["code"] == 1302  # one per 6 seconds


def test_omni_video_reference_images_reach_the_engine(server, tmp_path):
    red = np.zeros((320, 320, 3), np.uint8)
    red[..., 0] = 230
    body = {
        "contents": [
            {"type": "prompt", "text": "a ball coloured like @image_1"},
            {"type": "refer_image", "url": b64(encode(red)), "id": "image_1"},
        ],
        "settings": {"duration": 3, "aspect_ratio": "1:1"},
    }
    resp = call(server, "POST", "/omni-video/kling-3.0-omni", json=body)
    assert resp.status_code == 200, resp.text
    record = wait_record(server, resp.json()["data"]["id"])
    assert record["status"] == "succeeded", record
    frames, fps = frames_of(server, record["outputs"][0]["url"], tmp_path / "o.mp4")
    height, width = frames[0].shape[:2]
    assert width == height and abs(len(frames) / fps - 3.0) <= 0.1
    # the synthetic engine shows each reference as a thumbnail in the bottom-left corner
    side = width // 6
    corner = frames[len(frames) // 2][height - side : height - 4, 4 : side - 2].reshape(-1, 3)
    assert np.abs(corner.mean(axis=0) - [230, 0, 0]).max() < 25, corner.mean(axis=0)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/text-to-video/kling-9", {"prompt": "x"}, "model"),
        (
            "/text-to-video/kling-2.6",
            {"prompt": "x", "settings": {"duration": 7}},
            "settings.duration",
        ),
        ("/text-to-video/kling-3.0", {"prompt": "shot 1, 2, a; shot 2, 2, b;"}, "prompt"),
        ("/image-to-video/kling-2.6", {"contents": [{"type": "prompt", "text": "x"}]}, "contents"),
        (
            "/omni-video/kling-o1",
            {
                "contents": [
                    {"type": "prompt", "text": "x"},
                    {"type": "base_video", "url": "https://example.com/v.mp4"},
                ]
            },
            "contents[1].type",
        ),  # noqa: E501
    ],
)
def test_bad_input_over_http_changes_nothing(server, bystander, path, body, field):
    account = bystander

    def state() -> tuple:
        costs = call(server, "GET", "/account/costs", account).json()["data"]["balance"]
        return costs, call(server, "POST", "/tasks", account, json={}).json()["data"]["count"]

    before = state()
    resp = call(server, "POST", path, account, json=body)
    assert resp.status_code == 400
    out = resp.json()
    assert out["code"] == 1201 and out["message"].startswith(field + ":") and "data" not in out
    assert state() == before == (50, 0)


def test_models_lists_the_2026_models_and_the_cli_sends_a_test_callback(server, receiver):
    models = {m["model_name"]: m for m in call(server, "GET", "/v1/models").json()["data"]}
    for name in ("kling-2.5-turbo", "kling-2.6", "kling-3.0", "kling-3.0-turbo"):
        assert models[name]["api"] == "2026" and "text-to-video" in models[name]["endpoints"]
    assert models["kling-3.0-omni"]["endpoints"] == ["omni-video"]
    assert models["kling-o1"]["durations"] == [str(s) for s in range(3, 11)]
    assert "api" not in models["kling-v2-6"]  # the legacy entries are as they were

    account = server.new_account(credits=1)
    out = cli("webhooks", "test", account.access_key, receiver.url, data_dir=server.data_dir)
    sent = json.loads(out.stdout)
    # the CLI and the endpoint share the limit: one test callback per 6 s per account
    again = call(
        server, "POST", "/account/webhooks/test", account, json={"callback_url": receiver.url}
    )
    assert again.status_code == 429 and again.json()["code"] == 1302
    body, headers = receiver.wait(lambda p: p.get("id") == sent["id"])
    assert verify(account.webhook_secret, body, headers) == sent


def test_waiting_records_carry_their_place_in_line(tmp_path):
    """No worker here: the tasks wait, and GET /tasks and POST /tasks say where they stand."""
    idle = AppServer(data_dir=tmp_path / "idle", env={"OPENKLING_WORKERS": "0"})
    idle.start()
    try:
        made = []
        for i in range(2):
            resp = call(
                idle, "POST", "/text-to-video/kling-3.0",
                json={"prompt": f"a queue {i}", "settings": {"duration": 3}},
            )  # fmt: skip
            assert resp.status_code == 200, resp.text
            made.append(resp.json()["data"]["id"])
        got = call(idle, "GET", "/tasks?task_ids=" + ",".join(made)).json()["data"]
        places = {r["id"]: r["queue_position"] for r in got}
        assert places == {made[0]: 1, made[1]: 2}
        assert all(r["status"] == "submitted" and "queue_eta_seconds" not in r for r in got)
        page = call(idle, "POST", "/tasks", json={"limit": 10}).json()["data"]
        assert {r["id"]: r["queue_position"] for r in page["result"]} == places
    finally:
        idle.stop()
