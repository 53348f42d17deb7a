"""The OpenAI video API with the official `openai` package, on servers that run no engine: the
fields, list paging, the two doors' separate lists, and each error class; a refused request
stores nothing and charges nothing."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from support.harness import AppServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks Sora so

QUIET = {
    "OPENKLING_WORKERS": "0",  # tasks stay queued: balances and lists move only by the API
    "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
    "OPENKLING_MAX_CONCURRENT_TASKS": "0",
}
SERVERS = {
    "quiet": QUIET,
    "rate": {**QUIET, "OPENKLING_RATE_LIMIT_PER_MINUTE": "2"},
    "mapped": {**QUIET, "OPENKLING_OPENAI_MODEL_MAP": "sora-2=kling-v3:std,sora-2-pro=kling-v2-1"},
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> dict[str, AppServer]:
    made: dict[str, AppServer] = {}
    try:
        for name, env in SERVERS.items():
            data_dir = tmp_path_factory.mktemp(f"openai-{name}")
            made[name] = AppServer(data_dir=data_dir, env=env, socket=True).start()
        yield made
    finally:
        for server in made.values():
            server.stop()


def sdk(server: AppServer, secret_key: str | None = None) -> openai.OpenAI:
    """The official client, unchanged but for where it points and the key it sends."""
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=secret_key or server.secret_key)


def balance(server: AppServer, account=None) -> float:
    resp = server.request("GET", "/account/costs", account=account)
    return resp.json()["data"]["resource_pack_subscribe_infos"][0]["remaining_quantity"]


def inputs(server: AppServer) -> list[Path]:
    root = server.data_dir / "media" / "inputs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, format="PNG")
    return out.getvalue()


def test_create_reports_the_requested_fields(servers):
    server = servers["quiet"]
    account = server.new_account(credits=1000)
    client = sdk(server, account.secret_key)
    video = client.videos.create(prompt="a lighthouse at dusk")
    assert video.id.startswith("video_")
    assert video.object == "video" and video.status == "queued" and video.progress == 0
    assert (video.model, video.size, video.seconds) == ("sora-2", "720x1280", "4")
    assert video.prompt == "a lighthouse at dusk"
    assert video.remixed_from_video_id is None and video.error is None

    pro = client.videos.create(
        prompt="a glacier", model="sora-2-pro", size="1792x1024", seconds="12"
    )
    assert (pro.model, pro.size, pro.seconds) == ("sora-2-pro", "1792x1024", "12")
    again = client.videos.retrieve(pro.id)
    # a read of a waiting video adds openkling's queue fields (docs/scheduling.md)
    queue_fields = {"queue_position", "queue_eta_seconds"}
    assert again.model_dump(exclude=queue_fields) == pro.model_dump(exclude=queue_fields)
    # newer SDKs send 16 and 20
    assert client.videos.create(prompt="a comet", seconds="20").seconds == "20"
    # a dated snapshot is served as its model, and reported as asked
    dated = client.videos.create(prompt="a comet", model="sora-2-pro-2025-10-06")
    assert dated.model == "sora-2-pro-2025-10-06"
    assert (
        balance(server, account) == 1000 - 8 - 84 - 40 - 28
    )  # sora-2 std 4 s, pro 12 s, std 20 s, pro 4 s


def test_get_tells_the_sdk_how_long_to_wait(servers):
    server = servers["quiet"]
    client = sdk(server)
    video = client.videos.create(prompt="a kite")
    raw = client.videos.with_raw_response.retrieve(video.id)
    assert raw.headers["openai-poll-after-ms"] == "1000"
    assert raw.parse().id == video.id


def test_price_is_the_mapped_models_pro_rata(servers):
    """sora-2 is kling-v1 std (10 credits per 5 s), sora-2-pro is kling-v1 pro (35 per 5 s)."""
    server = servers["quiet"]
    account = server.new_account(credits=100)
    client = sdk(server, account.secret_key)
    client.videos.create(prompt="a meadow", seconds="4")
    assert balance(server, account) == 92.0
    client.videos.create(prompt="a meadow", seconds="8", model="sora-2-pro")
    assert balance(server, account) == 36.0


def test_json_body_and_data_url_reference(servers):
    server = servers["quiet"]
    reference = "data:image/png;base64," + base64.b64encode(png(1280, 720)).decode()
    resp = httpx.post(
        server.base_url + "/v1/videos",
        headers={"Authorization": f"Bearer {server.secret_key}"},
        json={
            "prompt": "a red wall",
            "size": "1280x720",
            "seconds": 8,
            "input_reference": {"image_url": reference},
        },
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    video = resp.json()
    assert (video["size"], video["seconds"], video["status"]) == ("1280x720", "8", "queued")
    assert any(p.suffix == ".png" for p in inputs(server))


def test_list_pages_with_after_and_has_more(servers):
    server = servers["quiet"]
    account = server.new_account(credits=1000)
    client = sdk(server, account.secret_key)
    made = [client.videos.create(prompt=f"scene {i}").id for i in range(5)]

    first = client.videos.list(limit=2)
    assert [v.id for v in first.data] == made[::-1][:2]  # newest first
    assert first.has_more is True and first.last_id == made[3]
    second = client.videos.list(limit=2, after=first.last_id)
    assert [v.id for v in second.data] == made[::-1][2:4] and second.has_more is True
    third = client.videos.list(limit=2, after=second.last_id)
    assert [v.id for v in third.data] == [made[0]] and third.has_more is False

    # the SDK's auto-paging follows last_id until has_more is false
    assert [v.id for v in client.videos.list(limit=2)] == made[::-1]
    assert [v.id for v in client.videos.list(order="asc", limit=3)] == made
    assert [v.id for v in client.videos.list(order="asc", after=made[1])] == made[2:]

    raw = httpx.get(
        server.base_url + "/v1/videos?limit=5",
        headers={"Authorization": f"Bearer {account.secret_key}"},
    ).json()
    assert raw["object"] == "list"
    assert (raw["first_id"], raw["last_id"], raw["has_more"]) == (made[4], made[0], False)

    empty = sdk(server, server.new_account().secret_key).videos.list()
    assert empty.data == [] and empty.has_more is False


def test_each_door_lists_and_finds_only_its_own(servers):
    server = servers["quiet"]
    account = server.new_account(credits=1000)
    video = sdk(server, account.secret_key).videos.create(prompt="through the OpenAI door")
    kling = server.request(
        "POST", "/v1/videos/text2video", json={"prompt": "through the Kling door"}, account=account
    ).json()["data"]

    listed = server.request("GET", "/v1/videos/text2video", account=account).json()["data"]
    assert [t["task_id"] for t in listed] == [kling["task_id"]]
    assert [v.id for v in sdk(server, account.secret_key).videos.list()] == [video.id]

    with pytest.raises(openai.NotFoundError):
        sdk(server, account.secret_key).videos.retrieve("video_" + kling["task_id"])
    resp = server.request(
        "GET", "/v1/videos/text2video/" + video.id.removeprefix("video_"), account=account
    )
    assert resp.status_code == 404 and resp.json()["code"] == 1203  # Kling's own shape there


def refused(server: AppServer, account, call, error: type[openai.APIStatusError]):
    """Run ``call``; it must raise ``error`` and change nothing: no video, no credit, no file."""
    client = sdk(server, account.secret_key)
    before = (balance(server, account), [v.id for v in client.videos.list()], inputs(server))
    with pytest.raises(error) as caught:
        call(client)
    after = (balance(server, account), [v.id for v in client.videos.list()], inputs(server))
    assert after == before
    body = caught.value.body
    assert set(body) == {"message", "type", "param", "code"}, body
    return caught.value


@pytest.mark.parametrize(
    ("fields", "param", "allowed"),
    [
        ({"size": "640x480"}, "size", "720x1280, 1280x720, 1024x1792, 1792x1024"),
        ({"seconds": "5"}, "seconds", '"4", "8", "12", "16", "20"'),
        ({"model": "sora-3"}, "model", "sora-2, sora-2-pro"),
        ({"prompt": ""}, "prompt", "required"),
        ({"prompt": "x" * 2501}, "prompt", "2500"),
        ({"input_reference": ("a.png", b"not an image", "image/png")}, "input_reference", "PNG"),
        ({"input_reference": ("a.png", png(100, 100), "image/png")}, "input_reference", "300"),
    ],
)
def test_bad_fields_are_bad_request_naming_the_field(servers, fields, param, allowed):
    server = servers["quiet"]
    account = server.new_account(credits=100)
    request = {"prompt": "a quiet harbour", **fields}
    exc = refused(server, account, lambda c: c.videos.create(**request), openai.BadRequestError)
    assert exc.status_code == 400
    assert exc.body["param"] == param and exc.body["type"] == "invalid_request_error"
    assert allowed in exc.body["message"]


@pytest.mark.parametrize(
    ("reference", "param", "allowed"),
    [
        ({"file_id": "file_123"}, "input_reference.file_id", "image_url"),
        ({"image_url": "file:///etc/passwd"}, "input_reference.image_url", "http"),
        ({"image_url": "http://169.254.169.254/a.png"}, "input_reference.image_url", "169.254"),
        ({"image_url": "data:image/png;base64,@@@"}, "input_reference.image_url", "base64"),
        ({"url": "https://example.com/a.png"}, "input_reference", "image_url, file_id"),
    ],
)
def test_bad_reference_objects_are_bad_request(servers, reference, param, allowed):
    """The JSON form of input_reference (the SDK's generic post sends it as JSON)."""
    server = servers["quiet"]
    account = server.new_account(credits=100)
    body = {"prompt": "a quiet harbour", "input_reference": reference}
    exc = refused(
        server,
        account,
        lambda c: c.post("/videos", body=body, cast_to=openai.types.Video),
        openai.BadRequestError,
    )
    assert exc.body["param"] == param and allowed in exc.body["message"]


def test_reference_with_a_text_only_mapping_and_image_only_mapping(servers):
    """kling-v3 takes text; kling-v2-1 makes video from an image only."""
    server = servers["mapped"]
    account = server.new_account(credits=1000)
    client = sdk(server, account.secret_key)
    exc = refused(
        server,
        account,
        lambda c: c.videos.create(prompt="x", model="sora-2-pro"),
        openai.BadRequestError,
    )
    assert exc.body["param"] == "input_reference" and "kling-v2-1" in exc.body["message"]
    video = client.videos.create(
        prompt="x", model="sora-2-pro", input_reference=("r.png", png(720, 1280), "image/png")
    )
    assert video.model == "sora-2-pro"
    assert balance(server, account) == 1000 - 8.0  # kling-v2-1 std: 10 credits per 5 s


def test_wrong_key_is_authentication_error(servers):
    server = servers["quiet"]
    account = server.new_account(credits=100)
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(server, "not-a-key").videos.create(prompt="a fox")
    assert caught.value.status_code == 401 and caught.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        sdk(server, "not-a-key").videos.list()
    assert balance(server, account) == 100.0


def test_unknown_videos_are_not_found(servers):
    server = servers["quiet"]
    client = sdk(server)
    other = sdk(server, server.new_account().secret_key).videos.create(prompt="someone else's")
    for video_id in ("video_000000000000000000", "nonsense", other.id):
        with pytest.raises(openai.NotFoundError) as caught:
            client.videos.retrieve(video_id)
        if video_id.startswith("video_"):  # "nonsense" is no video id: no such endpoint
            assert caught.value.body["param"] == "video_id"
        with pytest.raises(openai.NotFoundError):
            client.videos.download_content(video_id)
        with pytest.raises(openai.NotFoundError):
            client.videos.delete(video_id)
        with pytest.raises(openai.NotFoundError):
            client.videos.remix(video_id, prompt="again")


def test_unfinished_video_has_no_content_and_is_not_deleted_or_remixed(servers):
    server = servers["quiet"]
    account = server.new_account(credits=100)
    client = sdk(server, account.secret_key)
    video = client.videos.create(prompt="a slow river")
    for variant in ("video", "thumbnail", "spritesheet"):
        with pytest.raises(openai.BadRequestError) as caught:
            client.videos.download_content(video.id, variant=variant)
        assert "queued" in caught.value.message and "completed" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        client.videos.download_content(video.id, variant="poster")
    exc = refused(server, account, lambda c: c.videos.delete(video.id), openai.BadRequestError)
    assert "queued" in exc.body["message"]
    exc = refused(
        server, account, lambda c: c.videos.remix(video.id, prompt="x"), openai.BadRequestError
    )
    assert "completed" in exc.body["message"]
    assert client.videos.retrieve(video.id).status == "queued"


def test_list_limits(servers):
    client = sdk(servers["quiet"])
    for query in ({"limit": 0}, {"limit": 101}, {"order": "sideways"}, {"after": "task_1"}):
        with pytest.raises(openai.BadRequestError) as caught:
            client.videos.list(**query)
        assert caught.value.body["param"] == next(iter(query))


def test_rate_limit_is_rate_limit_error(servers):
    server = servers["rate"]
    account = server.new_account(credits=100)
    client = sdk(server, account.secret_key)
    client.videos.create(prompt="one")
    client.videos.create(prompt="two")
    exc = refused(server, account, lambda c: c.videos.create(prompt="three"), openai.RateLimitError)
    assert exc.status_code == 429 and exc.body["code"] == "rate_limit_exceeded"
    assert balance(server, account) == 84.0


def test_spent_credits_are_insufficient_quota(servers):
    server = servers["quiet"]
    account = server.new_account(credits=10)
    client = sdk(server, account.secret_key)
    client.videos.create(prompt="affordable")  # 8 credits
    exc = refused(
        server, account, lambda c: c.videos.create(prompt="too much"), openai.RateLimitError
    )
    assert exc.body["code"] == "insufficient_quota" and exc.body["type"] == "insufficient_quota"
    assert exc.response.headers["x-should-retry"] == "false"  # the SDK gives up at once
    assert balance(server, account) == 2.0


def test_refused_prompt_is_bad_request(servers):
    server = servers["quiet"]
    account = server.new_account(credits=100)
    exc = refused(server, account, lambda c: c.videos.create(prompt="csam"), openai.BadRequestError)
    assert exc.body["code"] == "moderation_blocked"


def test_key_without_the_mapped_model_is_permission_denied(servers):
    server = servers["quiet"]
    account = server.new_account(credits=100, models=["kling-v3"])
    exc = refused(
        server, account, lambda c: c.videos.create(prompt="a fox"), openai.PermissionDeniedError
    )
    assert exc.body["param"] == "model" and "sora-2" in exc.body["message"]


def test_malformed_bodies_are_bad_request(servers):
    server = servers["quiet"]
    account = server.new_account(credits=100)
    url, auth = server.base_url + "/v1/videos", {"Authorization": f"Bearer {account.secret_key}"}
    files_before = inputs(server)
    two_files = {
        "input_reference": ("a.png", png(400, 400), "image/png"),
        "other": ("b.png", png(400, 400), "image/png"),
    }
    cases = [
        httpx.post(url, headers=auth, data={"prompt": "x"}, files=two_files),
        httpx.post(url, headers={**auth, "Content-Type": "application/json"}, content=b"{nope"),
        httpx.post(url, headers={**auth, "Content-Type": "text/plain"}, content=b"prompt=x"),
        httpx.post(url, headers=auth, data={"prompt": "x", "colour": "red"}),
        httpx.post(
            url,
            headers={**auth, "Content-Type": "multipart/form-data; boundary=zz"},
            content=b"--zz\r\ngarbage",
        ),
    ]
    for resp in cases:
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert error["type"] == "invalid_request_error" and "Traceback" not in error["message"]
    assert "colour" in cases[3].json()["error"]["message"]
    assert balance(server, account) == 100.0 and inputs(server) == files_before
    assert sdk(server, account.secret_key).videos.list().data == []


def test_too_large_upload_is_refused_before_it_is_read(servers):
    server = servers["quiet"]
    account = server.new_account(credits=100)
    huge = b"\x89PNG\r\n\x1a\n" + bytes(12 * 1024 * 1024)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(server, account.secret_key).videos.create(
            prompt="x", input_reference=("big.png", huge, "image/png")
        )
    assert "larger than" in caught.value.message
    assert balance(server, account) == 100.0


def test_features_not_offered_are_not_found(servers):
    client = sdk(servers["quiet"])
    calls = [
        lambda: client.videos.edit(prompt="x", video=("v.mp4", b"\x00", "video/mp4")),
        lambda: client.videos.extend(
            prompt="x", seconds="4", video=("v.mp4", b"\x00", "video/mp4")
        ),
        lambda: client.videos.create_character(name="x", video=("v.mp4", b"\x00", "video/mp4")),
        lambda: client.videos.get_character("char_1"),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError) as caught:
            call()
        assert "does not offer" in caught.value.message
