"""/v1/models matches what the API accepts and charges; a task's request can be made again."""

from __future__ import annotations

import pytest

from pictures import png_b64


@pytest.fixture(scope="module")
def models(live_server) -> list[dict]:
    resp = live_server.request("GET", "/v1/models")
    assert resp.status_code == 200
    return resp.json()["data"]


def balance(server, account=None) -> float:
    return server.request("GET", "/account/costs", account=account).json()["data"]["balance"]


def test_models_list_what_the_api_validates_and_charges(live_server, models):
    names = [m["model_name"] for m in models]
    assert "kling-v1" in names and len(names) == len(set(names))
    v1 = next(m for m in models if m["model_name"] == "kling-v1")
    assert v1["modes"] == ["std", "pro"] and v1["durations"] == ["5", "10"]
    assert v1["aspect_ratios"] == ["16:9", "9:16", "1:1"]
    assert v1["camera"] is True and "simple" in v1["camera_types"]
    assert v1["allowed"] is True
    price = next(p for p in v1["prices"] if p["mode"] == "pro" and p["duration"] == "10")
    resp = live_server.request(
        "POST",
        "/v1/videos/text2video",
        json={"prompt": "a kite", "mode": "pro", "duration": "10"},
    )
    assert float(resp.json()["data"]["final_unit_deduction"]) == price["credits"]

    silent = next(m for m in models if not m["audio"])
    resp = live_server.request(
        "POST",
        "/v1/videos/text2video",
        json={"prompt": "a kite", "model_name": silent["model_name"], "sound": "on"},
    )
    assert resp.status_code == 400
    with_audio = [m["model_name"] for m in models if m["audio"]]
    assert resp.json()["message"].endswith(", ".join(with_audio))


def test_models_need_a_key_and_show_what_a_limited_key_may_use(live_server):
    assert live_server.request("GET", "/v1/models", headers={}).status_code == 401
    out = live_server.new_account(credits=10)
    account = live_server.new_account(credits=10, models=["kling-v1-6"])
    data = live_server.request("GET", "/v1/models", account=account).json()["data"]
    assert [m["model_name"] for m in data if m["allowed"]] == ["kling-v1-6"]
    data = live_server.request("GET", "/v1/models", account=out).json()["data"]
    assert all(m["allowed"] for m in data)


def test_request_gives_back_the_settings_and_seed_and_makes_the_task_again(live_server):
    body = {
        "model_name": "kling-v2-6",
        "prompt": "a lighthouse in a storm",
        "negative_prompt": "blur",
        "duration": "5",
        "aspect_ratio": "9:16",
        "mode": "pro",
        "cfg_scale": 0.7,
        "camera_control": {"type": "simple", "config": {"zoom": 3, "pan": -2}},
        "sound": "on",
        "seed": 1234,
    }
    first = live_server.request("POST", "/v1/videos/text2video", json=body).json()["data"]
    stored = live_server.request("GET", f"/v1/videos/text2video/{first['task_id']}/request").json()[
        "data"
    ]
    assert stored == body

    again = live_server.request("POST", "/v1/videos/text2video", json=stored).json()["data"]
    assert again["task_id"] != first["task_id"]
    done = [live_server.wait_task(t["task_id"]) for t in (first, again)]
    assert [t["task_status"] for t in done] == ["succeed", "succeed"]
    second = live_server.request("GET", f"/v1/videos/text2video/{again['task_id']}/request")
    assert second.json()["data"]["seed"] == 1234

    other = live_server.new_account(credits=10)
    resp = live_server.request(
        "GET", f"/v1/videos/text2video/{first['task_id']}/request", account=other
    )
    assert resp.status_code == 404 and resp.json()["code"] == 1203


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (-1, "seed: must be between 0 and 2147483647, got -1"),
        (2**31, "seed: must be between 0 and 2147483647, got 2147483648"),
        ("7", "seed: must be an integer between 0 and 2147483647, got string"),
        (1.5, "seed: must be an integer between 0 and 2147483647, got number"),
    ],
)
def test_a_bad_seed_is_refused_and_nothing_is_charged(live_server, seed, expected):
    account = live_server.new_account(credits=50)
    resp = live_server.request(
        "POST", "/v1/videos/text2video", json={"prompt": "x", "seed": seed}, account=account
    )
    assert resp.status_code == 400
    assert resp.json() | {"request_id": None} == {
        "code": 1201,
        "message": expected,
        "request_id": None,
    }
    assert balance(live_server, account) == 50
    listed = live_server.request("GET", "/v1/videos/text2video", account=account)
    assert listed.json()["data"] == []


def test_models_show_each_models_own_choices(models):
    by_name = {m["model_name"]: m for m in models}
    v3 = by_name["kling-v3"]
    assert v3["multi_shot"] is True and v3["audio"] is True
    assert v3["durations"] == [str(s) for s in range(3, 16)]
    assert {(p["mode"], p["duration"]) for p in v3["prices"]} == {
        (mode, str(s)) for mode in ("std", "pro") for s in range(3, 16)
    }
    assert by_name["kling-v2-1"]["text2video"] is False  # image2video only, as on Kling
    assert by_name["kling-v1"]["multi_shot"] is False


def test_multi_shot_and_image2video_tasks_give_back_their_request(live_server):
    body = {
        "model_name": "kling-v3",
        "prompt": "a village, then a car",
        "duration": "5",
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "a quiet village", "duration": "2"},
            {"index": 2, "prompt": "a red car", "duration": "3"},
        ],
        "watermark_info": {"enabled": True},
        "seed": 77,
    }
    task = live_server.request("POST", "/v1/videos/text2video", json=body).json()["data"]
    stored = live_server.request("GET", f"/v1/videos/text2video/{task['task_id']}/request").json()[
        "data"
    ]
    assert {k: stored[k] for k in body} == body

    made = live_server.request(
        "POST",
        "/v1/videos/image2video",
        json={"image": png_b64(400, 300), "prompt": "it moves", "seed": 5},
    ).json()["data"]
    path = f"/v1/videos/image2video/{made['task_id']}/request"
    stored = live_server.request("GET", path).json()["data"]
    assert stored["seed"] == 5 and stored["prompt"] == "it moves"
    assert "aspect_ratio" not in stored and "image" not in stored
    # each door finds only its own tasks
    other_door = f"/v1/videos/text2video/{made['task_id']}/request"
    assert live_server.request("GET", other_door).status_code == 404
