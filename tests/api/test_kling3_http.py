"""Kling 3 over HTTP against a real server: refused requests change nothing, /account/costs
honours its parameters, and a v3 multi-shot task makes the video it promises, measured."""

from __future__ import annotations

from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from support.accounts import Account
from support.harness import AppServer

PATH = "/v1/videos/text2video"
QUIET = {
    "OPENKLING_WORKERS": "0",  # no engine runs: tasks stay submitted
    "OPENKLING_MAX_CONCURRENT_TASKS": "0",
    "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
}
V3_SHOTS = {
    "model_name": "kling-v3",
    "duration": "7",
    "multi_shot": True,
    "shot_type": "customize",
    "multi_prompt": [
        {"index": 1, "prompt": "a quiet village at dawn, green hills", "duration": "3"},
        {"index": 2, "prompt": "a red car on a night street in the rain", "duration": "4"},
    ],
}


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    server = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("kling3-quiet"), env=QUIET)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=60) as client:
        yield client


def send(http, server: AppServer, method: str, path: str, account: Account | None = None, **kw):
    headers = (account or server.account).headers()
    return http.request(method, server.base_url + path, headers=headers, **kw)


def costs(http, server, account=None, **params) -> httpx.Response:
    return send(http, server, "GET", "/account/costs", account, params=params)


def snapshot(http, server, account) -> tuple:
    balance = costs(http, server, account).json()["data"]["balance"]
    tasks = send(http, server, "GET", f"{PATH}?pageNum=1&pageSize=500", account).json()["data"]
    return balance, tasks


def error_of(resp: httpx.Response) -> str:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["code"] == 1201 and "data" not in body, body
    return body["message"]


BAD = [
    ("shots not adding up", {**V3_SHOTS, "duration": "8"}, "multi_prompt: "),
    (
        "a seventh shot",
        {
            **V3_SHOTS,
            "duration": "7",
            "multi_prompt": [{"index": i, "prompt": "x", "duration": "1"} for i in range(7)],
        },
        "multi_prompt: must hold 1 to 6 shots, got 7",
    ),
    (
        "a 513-character shot prompt",
        {
            **V3_SHOTS,
            "multi_prompt": [
                {"index": 1, "prompt": "a" * 513, "duration": "3"},
                {"index": 2, "prompt": "b", "duration": "4"},
            ],
        },
        "multi_prompt[0].prompt: must be at most 512 characters",
    ),
    (
        "multi-shot on kling-v2-6",
        {**V3_SHOTS, "model_name": "kling-v2-6", "duration": "5"},
        "multi_shot: model 'kling-v2-6' does not offer multi-shot videos; models that do: kling-v3",
    ),
    ("duration 16 on v3", {"model_name": "kling-v3", "duration": "16"}, 'duration: must be "3"'),
    ("7 s on kling-v1", {"duration": "7"}, 'duration: must be "5" or "10" for kling-v1'),
    (
        "voice_list",
        {"model_name": "kling-v3", "sound": "on", "voice_list": [{"voice_id": "1"}]},
        "voice_list: this deployment does not offer voice_list",
    ),
    ("watermark_info not an object", {"watermark_info": "yes"}, "watermark_info: "),
]


@pytest.mark.parametrize(("fields", "start"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_refused_requests_store_nothing_and_charge_nothing(quiet, http, fields, start):
    account = quiet.new_account(credits=500)
    before = snapshot(http, quiet, account)
    body = {"prompt": "a red fox in the snow", **fields}
    message = error_of(send(http, quiet, "POST", PATH, account, json=body))
    assert message.startswith(start), message
    assert snapshot(http, quiet, account) == before == (500, [])


def test_v3_lengths_are_accepted_and_priced_pro_rata(quiet, http):
    account = quiet.new_account(credits=500)
    resp = send(http, quiet, "POST", PATH, account, json={"prompt": "x", **V3_SHOTS})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["task_status"] == "submitted"
    balance, tasks = snapshot(http, quiet, account)
    assert balance == 500 - 14  # 7 s of std at 10 credits per 5 s
    assert [t["task_id"] for t in tasks] == [resp.json()["data"]["task_id"]]


def test_fields_kling_does_not_know_are_still_ignored(quiet, http):
    body = {"prompt": "a red fox", "my_own_field": {"a": 1}, "voice_list": []}
    assert send(http, quiet, "POST", PATH, json=body).status_code == 200


# ---- /account/costs --------------------------------------------------------------------


def packs(resp: httpx.Response) -> list[dict]:
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["resource_pack_subscribe_infos"]


def test_costs_honours_its_window_and_name(quiet, http):
    account = quiet.new_account(credits=42)
    (pack,) = packs(costs(http, quiet, account))
    created = pack["effective_time"]
    assert pack["remaining_quantity"] == 42
    window = {"start_time": created - 10_000, "end_time": created + 10_000}
    assert len(packs(costs(http, quiet, account, **window))) == 1
    assert packs(costs(http, quiet, account, start_time=0, end_time=created - 1)) == []
    assert len(packs(costs(http, quiet, account, resource_pack_name="OPENKLING"))) == 1
    assert packs(costs(http, quiet, account, resource_pack_name="video pack")) == []
    # the balance is still reported when the window holds no pack
    assert costs(http, quiet, account, end_time=1).json()["data"]["balance"] == 42


@pytest.mark.parametrize("bad", ["soon", "1.5", "12e3", "-"])
def test_costs_refuses_a_non_integer_time(quiet, http, bad):
    message = error_of(costs(http, quiet, start_time=bad))
    assert message.startswith("start_time: must be an integer Unix time in milliseconds")
    assert "Traceback" not in message and "ValueError" not in message


def test_costs_invalid_time_is_stable(quiet, http):
    first = packs(costs(http, quiet))[0]["invalid_time"]
    second = packs(costs(http, quiet))[0]["invalid_time"]
    assert first == second > packs(costs(http, quiet))[0]["effective_time"]


# ---- a v3 multi-shot task, end to end -----------------------------------------------------


def decode(path: Path) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        frames = [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(stream)]
    return frames, fps


def audio_seconds(path: Path) -> tuple[float, float]:
    """(decoded audio length, RMS of its last half second) of the file's audio track."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)
    tail = samples[:, -rate // 2 :]
    return samples.shape[1] / rate, float(np.sqrt(np.mean(tail**2)))


def download(http, url: str, path: Path) -> Path:
    resp = http.get(url)
    assert resp.status_code == 200, resp.text[:200]
    path.write_bytes(resp.content)
    return path


@pytest.fixture(scope="module")
def engine_server(tmp_path_factory):
    env = {"OPENKLING_WORKERS": "1", "OPENKLING_STD_SHORT_SIDE": "144"}
    server = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("kling3-engine"), env=env)
    server.start()
    yield server
    server.stop()


def test_a_v3_multi_shot_task_makes_a_7_second_video_cut_at_3_seconds(
    engine_server, http, tmp_path
):
    body = {**V3_SHOTS, "sound": "on", "watermark_info": {"enabled": True}}
    resp = send(http, engine_server, "POST", PATH, json=body)
    assert resp.status_code == 200, resp.text
    task = engine_server.wait_task(resp.json()["data"]["task_id"], timeout=300)
    assert task["task_status"] == "succeed", task
    (video,) = task["task_result"]["videos"]
    assert abs(float(video["duration"]) - 7.0) <= 0.1
    plain = download(http, video["url"], tmp_path / "plain.mp4")
    marked = download(http, video["watermark_url"], tmp_path / "marked.mp4")

    frames, fps = decode(plain)
    assert abs(len(frames) / fps - 7.0) <= 0.1  # the sum of the shots
    change = [np.abs(b - a).mean() for a, b in zip(frames, frames[1:], strict=False)]
    cut = int(np.argmax(change)) + 1  # the first frame of the second shot
    assert abs(cut - 3.0 * fps) <= 1, (cut, fps)
    others = change[: cut - 2] + change[cut + 1 :]
    assert change[cut - 1] > 3 * max(others)  # a hard cut, not a blend

    length, tail_rms = audio_seconds(plain)
    assert length >= 7.0 - 0.05  # sound runs over the whole video ...
    assert tail_rms > 1e-3  # ... and is still sounding at its end

    # the watermarked copy differs from the video only inside one small corner rectangle
    marks, _ = decode(marked)
    assert len(marks) == len(frames)
    diff = np.stack([np.abs(m - f).max(axis=2) for m, f in zip(marks, frames, strict=True)])
    rows, cols = np.nonzero((diff > 40).mean(axis=0) > 0.5)  # where the mark always shows
    assert rows.size > 0, "no visible watermark"
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    height, width = frames[0].shape[:2]
    assert bottom > height * 0.75 and right > width * 0.75  # the default corner: bottom-right
    assert (bottom - top) * (right - left) < 0.1 * height * width
    outside = np.ones((height, width), bool)
    outside[max(0, top - 4) : bottom + 4, max(0, left - 4) : right + 4] = False
    assert diff[:, outside].mean() < 2.0
    assert len(audio_seconds(marked)) == 2 and audio_seconds(marked)[0] >= 7.0 - 0.05


def test_watermark_off_gives_no_copy(engine_server, http):
    body = {"prompt": "a lighthouse", "duration": "5", "watermark_info": {"enabled": False}}
    resp = send(http, engine_server, "POST", PATH, json=body)
    task = engine_server.wait_task(resp.json()["data"]["task_id"], timeout=300)
    assert task["task_status"] == "succeed", task
    assert "watermark_url" not in task["task_result"]["videos"][0]
