"""video-extend, multi-image2video and effects end to end against a real server on the synthetic
engine, measured on the delivered MP4s: the seam of an extension, the zoom of zoom_out, the
night of day_to_night, both pictures of a dual scene, every reference of a multi-image video."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from pictures import b64, decode_frames, encode, gradient
from support.harness import AppServer
from support.server import free_port
from test_callbacks import Receiver

FPS = 8  # small videos: 40 frames per 5 s at 256x144


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = AppServer(
        socket=True,
        data_dir=tmp_path_factory.mktemp("neighbours-e2e"),
        env={"OPENKLING_WORKERS": "2", "OPENKLING_FPS": str(FPS)},
    )
    s.start()
    yield s
    s.stop()


def create(server, path: str, body: dict) -> dict:
    response = server.request("POST", path, json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def finish(server, path: str, task_id: str, timeout: float = 120) -> dict:
    data = server.wait_task(task_id, path=path, timeout=timeout)
    assert data["task_status"] == "succeed", data.get("task_status_msg")
    return data


def frames_of(data: dict) -> list[np.ndarray]:
    return decode_frames(httpx.get(data["task_result"]["videos"][0]["url"], timeout=30).content)


def step(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference between two frames."""
    return float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32))))


def luma(frame: np.ndarray) -> float:
    return float(np.mean(frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114])))


def colour_share(frame: np.ndarray, colour: tuple[int, int, int], tol: float = 40) -> float:
    """The share of the frame's pixels within ``tol`` of ``colour``."""
    distance = np.abs(frame.astype(np.int16) - np.array(colour, np.int16)).sum(axis=2)
    return float(np.mean(distance < tol))


def flat(colour: tuple[int, int, int], width: int = 400, height: int = 400) -> np.ndarray:
    """A picture of one colour with a faint texture (JPEG-safe, and >= 300 px a side)."""
    picture = np.empty((height, width, 3), np.uint8)
    picture[:] = colour
    picture[::16, :] = np.clip(np.array(colour) - 12, 0, 255)
    return picture


# ---- video-extend -------------------------------------------------------------------------


def test_extension_continues_the_parent_without_a_seam_and_chains(server):
    parent = create(server, "/v1/videos/text2video", {"prompt": "a red kite over a sunny meadow"})
    parent = finish(server, "/v1/videos/text2video", parent["task_id"])
    parent_video = parent["task_result"]["videos"][0]
    before = frames_of(parent)

    first = create(server, "/v1/videos/video-extend", {"video_id": parent_video["id"]})
    assert first["task_info"]["parent_video"]["id"] == parent_video["id"]
    first = finish(server, "/v1/videos/video-extend", first["task_id"])
    info = first["task_info"]["parent_video"]
    assert info["id"] == parent_video["id"] and info["duration"] == parent_video["duration"]
    assert httpx.get(info["url"], timeout=30).status_code == 200
    whole = frames_of(first)
    video = first["task_result"]["videos"][0]
    assert len(whole) == len(before) + 5 * FPS  # the parent, then 5 s more
    assert float(video["duration"]) == pytest.approx(float(parent_video["duration"]) + 5, abs=0.2)

    # the seam: the join moves no more than the parent moves from one frame to the next
    n = len(before)
    within = max(step(whole[i], whole[i + 1]) for i in range(n - 1))
    join = step(whole[n - 1], whole[n])
    assert join <= within, (join, within)
    assert step(whole[n - 1], before[-1]) < 3  # the parent is in the result as it was

    # a chain: the extension extended again holds all three parts
    second = create(server, "/v1/videos/video-extend", {"video_id": video["id"], "prompt": "dusk"})
    second = finish(server, "/v1/videos/video-extend", second["task_id"])
    assert second["task_info"]["parent_video"]["id"] == video["id"]
    longer = frames_of(second)
    assert len(longer) == len(whole) + 5 * FPS
    seam = step(longer[len(whole) - 1], longer[len(whole)])
    assert seam <= max(step(longer[i], longer[i + 1]) for i in range(n - 1))


def test_extend_refuses_unknown_foreign_and_running_parents(server):
    parent = create(server, "/v1/videos/text2video", {"prompt": "a quiet harbour"})
    parent = finish(server, "/v1/videos/text2video", parent["task_id"])
    video_id = parent["task_result"]["videos"][0]["id"]
    stranger = server.new_account(credits=100)
    for body, account in (
        ({"video_id": "123-1"}, None),
        ({"video_id": video_id}, stranger),  # another account's video does not exist
        ({"video_id": parent["task_id"]}, None),  # a task id is not a video id
        ({}, None),
    ):
        response = server.request("POST", "/v1/videos/video-extend", json=body, account=account)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == 1201
        assert "video_id" in response.json()["message"]


# ---- effects --------------------------------------------------------------------------------


def disc_picture() -> np.ndarray:
    """A light picture with a dark disc in the middle whose radius shows the picture's scale."""
    picture = np.full((480, 640, 3), 215, np.uint8)
    yy, xx = np.mgrid[0:480, 0:640]
    picture[(xx - 320) ** 2 + (yy - 240) ** 2 < 90**2] = (30, 30, 120)
    return picture


def disc_width(frame: np.ndarray) -> int:
    """How many pixels of the frame's middle row are the dark disc."""
    row = frame[frame.shape[0] // 2].astype(np.int16)
    return int(np.sum(np.abs(row - np.array([30, 30, 120])).sum(axis=1) < 90))


def test_zoom_out_shrinks_the_picture_and_day_to_night_darkens_it(server):
    image = b64(encode(disc_picture()))
    zoom = create(
        server, "/v1/videos/effects", {"effect_scene": "zoom_out", "input": {"image": image}}
    )
    night = create(
        server, "/v1/videos/effects", {"effect_scene": "day_to_night", "input": {"image": image}}
    )
    frames = frames_of(finish(server, "/v1/videos/effects", zoom["task_id"]))
    widths = [disc_width(f) for f in (frames[0], frames[len(frames) // 2], frames[-1])]
    assert widths[0] > widths[1] > widths[2], widths  # the camera pulls back all the way
    assert widths[2] < 0.8 * widths[0]

    frames = frames_of(finish(server, "/v1/videos/effects", night["task_id"]))
    light = [luma(f) for f in frames]
    assert light[-1] < 0.5 * light[0], (light[0], light[-1])
    assert all(b <= a + 1 for a, b in zip(light, light[1:], strict=False))  # it only falls
    last = frames[-1].astype(np.float32).mean(axis=(0, 1))
    assert last[2] > last[0]  # night is blue


def test_bullet_time_turns_all_the_way_round(server):
    image = b64(encode(gradient(640, 400, seed=3)))
    data = create(
        server, "/v1/videos/effects", {"effect_scene": "bullet_time_360", "input": {"image": image}}
    )
    frames = frames_of(finish(server, "/v1/videos/effects", data["task_id"]))
    first, middle, last = frames[0], frames[len(frames) // 2], frames[-1]
    assert step(first, middle) > 10  # half way round, the view is another
    assert step(first, last) < 4  # a full turn comes back to the start


@pytest.mark.parametrize("scene", ["hug_pro", "kiss_pro", "heart_gesture_pro"])
def test_dual_scenes_show_both_pictures_meeting(server, scene):
    red, blue = (220, 40, 40), (40, 60, 220)
    images = [b64(encode(flat(red))), b64(encode(flat(blue)))]
    body = {"effect_scene": scene, "input": {"images": images}}
    data = create(server, "/v1/videos/effects", body)
    assert data["final_unit_deduction"] == "35"
    frames = frames_of(finish(server, "/v1/videos/effects", data["task_id"]))
    first, last = frames[0], frames[-1]
    w = first.shape[1]
    # at the start: the first picture on the left, the second on the right
    assert colour_share(first[:, : w // 2 - 4], red) > 0.8
    assert colour_share(first[:, w // 2 + 4 :], blue) > 0.8

    def centre(frame, colour):
        distance = np.abs(frame.astype(np.int16) - np.array(colour, np.int16)).sum(axis=2)
        return float(np.nonzero(distance < 40)[1].mean())

    # at the end both are still there, and they have come together
    assert colour_share(last, red) > 0.15 and colour_share(last, blue) > 0.15
    assert centre(last, blue) - centre(last, red) < 0.8 * (centre(first, blue) - centre(first, red))
    if scene == "heart_gesture_pro":
        assert colour_share(last, (235, 40, 90), tol=30) > colour_share(first, (235, 40, 90), 30)


def test_effect_scenes_are_listed_and_bad_effects_change_nothing(server):
    scenes = server.request("GET", "/v1/effects").json()["data"]
    names = {s["effect_scene"]: s for s in scenes}
    for name in ("zoom_out", "day_to_night", "bullet_time_360", "hug_pro", "kiss_pro"):
        assert name in names
    assert names["hug_pro"]["kind"] == "dual" and names["zoom_out"]["kind"] == "single"

    image = b64(encode(gradient(400, 400)))
    before, files = balance(server), inputs(server)
    listed = len(server.request("GET", "/v1/videos/effects?pageSize=500").json()["data"])
    small = b64(encode(gradient(200, 200)))
    for body, field in (
        ({"effect_scene": "fly_to_mars", "input": {"image": image}}, "effect_scene"),
        ({"input": {"image": image}}, "effect_scene"),
        ({"effect_scene": "zoom_out"}, "input"),
        ({"effect_scene": "zoom_out", "input": {"images": [image, image]}}, "input.images"),
        ({"effect_scene": "hug_pro", "input": {"image": image}}, "input.image"),
        ({"effect_scene": "hug_pro", "input": {"images": [image]}}, "input.images"),
        ({"effect_scene": "hug_pro", "input": {"images": [image, "bm90IGFu"]}}, "input.images[1]"),
        ({"effect_scene": "zoom_out", "input": {"image": small}}, "input.image"),
        ({"effect_scene": "zoom_out", "input": {"image": image}, "callback_url": "ftp://x"},
         "callback_url"),
    ):  # fmt: skip
        response = server.request("POST", "/v1/videos/effects", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == 1201
        assert response.json()["message"].startswith(field), response.json()["message"]
    message = server.request(
        "POST", "/v1/videos/effects", json={"effect_scene": "nope", "input": {"image": image}}
    ).json()["message"]
    assert "zoom_out" in message and "hug_pro" in message  # the offered scenes are named
    assert balance(server) == before
    assert len(server.request("GET", "/v1/videos/effects?pageSize=500").json()["data"]) == listed
    assert inputs(server) == files  # no picture of a refused request was kept


def inputs(server) -> set:
    return set((server.data_dir / "media" / "inputs").glob("*/*"))


def balance(server) -> float:
    packs = server.request("GET", "/account/costs").json()["data"]["resource_pack_subscribe_infos"]
    return sum(float(p["remaining_quantity"]) for p in packs)


# ---- multi-image2video ----------------------------------------------------------------------


def test_every_reference_appears_in_the_video(server):
    colours = [(220, 40, 40), (40, 180, 60), (40, 60, 220)]
    body = {
        "prompt": "three friends on a beach",
        "image_list": [{"image": b64(encode(flat(c)))} for c in colours],
    }
    data = create(server, "/v1/videos/multi-image2video", body)
    assert data["final_unit_deduction"] == "10"
    frames = frames_of(finish(server, "/v1/videos/multi-image2video", data["task_id"]))
    for frame in (frames[0], frames[len(frames) // 2], frames[-1]):
        for colour in colours:
            assert colour_share(frame, colour) > 0.03, colour


def test_multi_image_bad_input_and_models_without_references(server):
    image = b64(encode(gradient(400, 400)))
    before, files = balance(server), inputs(server)
    for body, field in (
        ({"prompt": "x"}, "image_list"),
        ({"prompt": "x", "image_list": []}, "image_list"),
        ({"prompt": "x", "image_list": [{"image": image}] * 5}, "image_list"),
        ({"prompt": "x", "image_list": [{"img": image}]}, "image_list[0].image"),
        ({"image_list": [{"image": image}]}, "prompt"),
        ({"prompt": "x", "image_list": [{"image": image}], "duration": "7"}, "duration"),
        ({"prompt": "x", "image_list": [{"image": image}], "aspect_ratio": "4:3"}, "aspect_ratio"),
        ({"prompt": "x", "image_list": [{"image": image}, {"image": "AAAA"}]},
         "image_list[1].image"),
        ({"prompt": "x", "image_list": [{"image": image}], "model_name": "kling-v2-master"},
         "model_name"),
    ):  # fmt: skip
        response = server.request("POST", "/v1/videos/multi-image2video", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == 1201
        assert response.json()["message"].startswith(field), response.json()["message"]
    message = server.request(
        "POST",
        "/v1/videos/multi-image2video",
        json={"prompt": "x", "image_list": [{"image": image}], "model_name": "kling-v1"},
    ).json()["message"]
    assert "kling-v1-6" in message  # the models that do take references are named
    assert balance(server) == before
    assert inputs(server) == files


# ---- the families, and callbacks ------------------------------------------------------------


def test_families_are_kept_apart_and_callbacks_arrive(server):
    receiver = Receiver(server.webhook_secret, free_port())
    receiver.start()
    try:
        image = b64(encode(gradient(400, 400)))
        effect = create(
            server,
            "/v1/videos/effects",
            {
                "effect_scene": "zoom_out",
                "input": {"image": image},
                "callback_url": receiver.url,
                "external_task_id": "fx-1",
            },
        )
        received = receiver.wait_for(effect["task_id"], "succeed")
        assert received[-1]["task_result"]["videos"][0]["url"]
    finally:
        receiver.stop()
    task_id = effect["task_id"]
    assert server.request("GET", f"/v1/videos/effects/{task_id}").status_code == 200
    assert server.request("GET", "/v1/videos/effects/fx-1").json()["data"]["task_id"] == task_id
    got = server.request("GET", "/v1/videos/effects?external_task_id=fx-1").json()["data"]
    assert got["task_id"] == task_id
    for other in ("text2video", "image2video", "video-extend", "multi-image2video"):
        response = server.request("GET", f"/v1/videos/{other}/{task_id}")
        assert response.status_code == 404 and response.json()["code"] == 1203
        listed = server.request("GET", f"/v1/videos/{other}?pageSize=500").json()["data"]
        assert task_id not in [t["task_id"] for t in listed]
    listed = server.request("GET", "/v1/videos/effects?pageNum=1&pageSize=500").json()["data"]
    assert task_id in [t["task_id"] for t in listed]


def test_cancel_a_queued_extension(server):
    parent = create(server, "/v1/videos/text2video", {"prompt": "snow falling"})
    parent = finish(server, "/v1/videos/text2video", parent["task_id"])
    video_id = parent["task_result"]["videos"][0]["id"]
    data = create(server, "/v1/videos/video-extend", {"video_id": video_id})
    response = server.request("POST", f"/v1/videos/video-extend/{data['task_id']}/cancel")
    if response.status_code == 200:  # (it may have finished already on a fast machine)
        done = server.wait_task(data["task_id"], path="/v1/videos/video-extend")
        assert done["task_status"] in ("failed", "succeed")
        if done["task_status"] == "failed":
            assert done["final_unit_deduction"] == "0"
    else:
        assert response.json()["code"] == 1201
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        data = server.request("GET", f"/v1/videos/video-extend/{data['task_id']}").json()["data"]
        if data["task_status"] in ("failed", "succeed"):
            break


def test_every_door_sees_only_its_own_tasks(server):
    """Run last in this module: every door has tasks by now; each lists and finds only its own."""
    doors = ("text2video", "video-extend", "multi-image2video", "effects")
    listed = {
        door: {
            t["task_id"]
            for t in server.request("GET", f"/v1/videos/{door}?pageSize=500").json()["data"]
        }
        for door in doors
    }
    for door in doors:
        assert listed[door], door
        for other in doors:
            if other == door:
                continue
            assert not listed[door] & listed[other], (door, other)
            task_id = next(iter(listed[door]))
            response = server.request("GET", f"/v1/videos/{other}/{task_id}")
            assert response.status_code == 404 and response.json()["code"] == 1203
            cancel = server.request("POST", f"/v1/videos/{other}/{task_id}/cancel")
            assert cancel.status_code == 404
