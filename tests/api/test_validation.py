"""The bad-input table over HTTP: each rule's status, code and field, and that nothing changed
(no task stored, no credit moved); then the valid spellings, accepted and priced."""

from __future__ import annotations

import json

import httpx
import pytest

from support.accounts import Account
from support.harness import AppServer

ENV = {
    "OPENKLING_WORKERS": "0",  # no engine runs: tasks stay submitted
    "OPENKLING_MAX_CONCURRENT_TASKS": "0",
    "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
    "OPENKLING_REFUSED_TERMS": "forbiddenword",
}
PATH = "/v1/videos/text2video"
PROMPT = "a paper boat drifting down a rainy street"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(data_dir=tmp_path_factory.mktemp("validation"), env=ENV) as server:
        yield server


@pytest.fixture(scope="module")
def payer(server) -> Account:
    """A second account for the requests that are accepted (and charged)."""
    return server.new_account(credits=100000)


@pytest.fixture(scope="module")
def http(server):
    """The app's own client (in this process, over ASGI)."""
    return server.client


def send(http, server: AppServer, method: str, path: str, *, account=None, **kw):
    headers = {**(account or server.account).headers(), **kw.pop("headers", {})}
    return http.request(method, path, headers=headers, **kw)


def balance(http, server: AppServer, account: Account | None = None) -> float:
    resp = send(http, server, "GET", "/account/costs", account=account)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["resource_pack_subscribe_infos"][0]["remaining_quantity"]


def task_list(http, server: AppServer, account: Account | None = None) -> list[dict]:
    resp = send(http, server, "GET", f"{PATH}?pageNum=1&pageSize=500", account=account)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def state(http, server: AppServer, account: Account | None = None) -> tuple:
    return balance(http, server, account), task_list(http, server, account)


def assert_error(resp: httpx.Response, status: int, code: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["code"] == code, body
    assert body["request_id"] == resp.headers["x-request-id"]
    return body["message"]


# (id, fields merged over a valid body (None deletes a field), the field the message names)
BAD = [
    ("model unknown", {"model_name": "kling-v9"}, "model_name"),
    ("model not a string", {"model_name": 16}, "model_name"),
    ("model alias not a string", {"model_name": None, "model": {"name": "kling-v1"}}, "model"),
    ("prompt missing", {"prompt": None}, "prompt"),
    ("prompt empty", {"prompt": ""}, "prompt"),
    ("prompt whitespace", {"prompt": "   \n\t  "}, "prompt"),
    ("prompt 2501 chars", {"prompt": "p" * 2501}, "prompt"),
    ("prompt not a string", {"prompt": ["a", "b"]}, "prompt"),
    ("prompt NUL", {"prompt": "a\x00b"}, "prompt"),
    ("negative_prompt 2501 chars", {"negative_prompt": "n" * 2501}, "negative_prompt"),
    ("negative_prompt not a string", {"negative_prompt": 5}, "negative_prompt"),
    ("duration '7'", {"duration": "7"}, "duration"),
    ("duration 7", {"duration": 7}, "duration"),
    ("duration 'abc'", {"duration": "abc"}, "duration"),
    ("duration true", {"duration": True}, "duration"),
    ("duration 5.5", {"duration": 5.5}, "duration"),
    ("duration huge", {"duration": 10**300}, "duration"),
    ("aspect_ratio 4:3", {"aspect_ratio": "4:3"}, "aspect_ratio"),
    ("mode ultra", {"mode": "ultra"}, "mode"),
    ("cfg_scale -0.1", {"cfg_scale": -0.1}, "cfg_scale"),
    ("cfg_scale 1.1", {"cfg_scale": 1.1}, "cfg_scale"),
    ("cfg_scale string", {"cfg_scale": "0.5"}, "cfg_scale"),
    ("cfg_scale true", {"cfg_scale": True}, "cfg_scale"),
    ("cfg_scale huge", {"cfg_scale": 10**300}, "cfg_scale"),
    ("camera not an object", {"camera_control": "zoom in"}, "camera_control"),
    ("camera missing type", {"camera_control": {"config": {"zoom": 2}}}, "camera_control.type"),
    ("camera unknown type", {"camera_control": {"type": "orbit"}}, "camera_control.type"),
    (
        "camera simple without config",
        {"camera_control": {"type": "simple"}},
        "camera_control.config",
    ),
    (
        "camera simple all zero",
        {"camera_control": {"type": "simple", "config": {"zoom": 0, "pan": 0, "roll": 0}}},
        "camera_control.config",
    ),
    (
        "camera value 11",
        {"camera_control": {"type": "simple", "config": {"zoom": 11}}},
        "camera_control.config.zoom",
    ),
    (
        "camera unknown config key",
        {"camera_control": {"type": "simple", "config": {"dolly": 2}}},
        "camera_control.config",
    ),
    (
        "camera preset with config",
        {"camera_control": {"type": "forward_up", "config": {"tilt": 3}}},
        "camera_control.config",
    ),
    ("sound yes", {"model_name": "kling-v2-6", "sound": "yes"}, "sound"),
    ("sound on for kling-v1", {"model_name": "kling-v1", "sound": "on"}, "sound"),
    ("motion_has_audio for kling-v1", {"motion_has_audio": True}, "motion_has_audio"),
    (
        "motion_has_audio yes",
        {"model_name": "kling-v2-6", "motion_has_audio": "yes"},
        "motion_has_audio",
    ),
    ("callback ftp", {"callback_url": "ftp://x"}, "callback_url"),
    ("callback not a url", {"callback_url": "not a url"}, "callback_url"),
    ("callback broken ipv6", {"callback_url": "http://[::1/hook"}, "callback_url"),
    ("external_task_id not a string", {"external_task_id": 42}, "external_task_id"),
    ("external_task_id 129 chars", {"external_task_id": "e" * 129}, "external_task_id"),
]


@pytest.mark.parametrize(("fields", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_changes_nothing(server, http, fields, field):
    body = {"model_name": "kling-v1", "prompt": PROMPT, "duration": "5", "mode": "std"}
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    before = state(http, server)
    message = assert_error(send(http, server, "POST", PATH, json=body), 400, 1201)
    assert message.startswith(f"{field}: "), message
    assert state(http, server) == before


def test_unknown_model_message_lists_the_valid_names(server, http):
    resp = send(http, server, "POST", PATH, json={"model_name": "kling-v9", "prompt": PROMPT})
    message = assert_error(resp, 400, 1201)
    for name in ("kling-v1", "kling-v1-5", "kling-v1-6", "kling-v2-master", "kling-v2-1-master"):
        assert name in message
    assert "kling-v2-5-turbo" in message and "kling-v2-6" in message


RAW = [
    # (id, raw body, code, a word the message holds)
    ("json array", b'[{"prompt": "x"}]', 1201, "object"),
    ("json string", b'"a prompt"', 1201, "object"),
    ("json null", b"null", 1201, "object"),
    ("malformed json", b'{"prompt": "x",', 1200, "JSON"),
    ("single quotes", b"{'prompt': 'x'}", 1200, "JSON"),
    ("trailing garbage", b'{"prompt": "x"} trailing', 1200, "JSON"),
    ("empty body", b"", 1200, "empty"),
    ("whitespace body", b"  \n ", 1200, "empty"),
    ("not utf-8", b'{"prompt": "\xff\xfe"}', 1200, "JSON"),
    ("lone surrogate", b'{"prompt": "half \\ud800 a pair"}', 1201, "prompt"),
    ("oversize", json.dumps({"prompt": "x", "pad": "a" * 70_000}).encode(), 1200, "larger"),
]
RAW += [
    ("deeply nested", b"[" * 30_000 + b"]" * 30_000, 1200, "JSON"),
    ("NaN is not JSON", b'{"prompt": "x", "cfg_scale": NaN}', 1200, "JSON"),
    ("Infinity is not JSON", b'{"prompt": "x", "extra": Infinity}', 1200, "JSON"),
]
RAW_CASES = [pytest.param(*r[1:], id=r[0]) for r in RAW]


@pytest.mark.parametrize(("content", "code", "word"), RAW_CASES)
def test_bad_body_changes_nothing(server, http, content, code, word):
    before = state(http, server)
    message = assert_error(send(http, server, "POST", PATH, content=content), 400, code)
    assert word in message, message
    assert state(http, server) == before


def test_oversize_chunked_body_without_length(server, http):
    def chunks():
        yield b'{"prompt": "x", "pad": "'
        for _ in range(20):
            yield b"a" * 4096
        yield b'"}'

    before = state(http, server)
    resp = send(http, server, "POST", PATH, content=chunks())
    assert "content-length" not in {k.lower() for k in resp.request.headers}
    assert "larger" in assert_error(resp, 400, 1200)
    assert state(http, server) == before


def test_duplicate_external_task_id(server, http):
    first = send(
        http, server, "POST", PATH, json={"prompt": PROMPT, "external_task_id": "dup-validation-1"}
    )
    assert first.status_code == 200, first.text
    before = state(http, server)
    again = {"prompt": "another prompt", "external_task_id": "dup-validation-1"}
    message = assert_error(send(http, server, "POST", PATH, json=again), 400, 1201)
    assert message.startswith("external_task_id: ") and "dup-validation-1" in message
    assert state(http, server) == before


@pytest.mark.parametrize(
    "prompt",
    ["a forbiddenword in a field", "FORBIDDENWORD at the start", "ends with ForbiddenWord."],
)
def test_refused_prompt_changes_nothing(server, http, prompt):
    before = state(http, server)
    message = assert_error(send(http, server, "POST", PATH, json={"prompt": prompt}), 400, 1301)
    assert "policy" in message
    assert state(http, server) == before


def test_refused_term_is_a_whole_word(server, http, payer):
    resp = send(http, server, "POST", PATH, json={"prompt": "notforbiddenwordy"}, account=payer)
    assert resp.status_code == 200, resp.text


def test_auth_is_checked_before_the_body(http):
    resp = http.post(PATH, content=b"{not json")
    assert_error(resp, 401, 1001)


GOOD = [
    # (id, fields, credits charged)
    ("duration 5 number", {"duration": 5}, 10),
    ("duration 10 number", {"duration": 10}, 20),
    ("duration '10'", {"duration": "10"}, 20),
    ("duration 10.0", {"duration": 10.0}, 20),
    ("mode standard", {"mode": "standard"}, 10),
    ("mode professional", {"mode": "professional"}, 35),
    ("mode std", {"mode": "std"}, 10),
    ("mode pro", {"mode": "pro"}, 35),
    ("pro 10", {"mode": "pro", "duration": "10"}, 70),
    ("professional 10", {"mode": "professional", "duration": 10}, 70),
    ("cfg_scale 0", {"cfg_scale": 0}, 10),
    ("cfg_scale 1", {"cfg_scale": 1}, 10),
    ("cfg_scale 0.5", {"cfg_scale": 0.5}, 10),
    ("model alias", {"model": "kling-v1-6"}, 10),
    ("every model", {"model_name": "kling-v2-1-master"}, 10),
    ("aspect 9:16", {"aspect_ratio": "9:16"}, 10),
    ("aspect 1:1", {"aspect_ratio": "1:1"}, 10),
    (
        "nulls for optional fields",
        {
            "model_name": None,
            "negative_prompt": None,
            "duration": None,
            "aspect_ratio": None,
            "mode": None,
            "cfg_scale": None,
            "camera_control": None,
            "sound": None,
            "motion_has_audio": None,
            "callback_url": None,
            "external_task_id": None,
        },
        10,
    ),
    ("unknown extra fields", {"seed": 7, "image_tail": "", "fancy": {"x": [1, 2]}}, 10),
    ("camera down_back", {"camera_control": {"type": "down_back"}}, 10),
    ("camera forward_up", {"camera_control": {"type": "forward_up"}}, 10),
    ("camera right_turn_forward", {"camera_control": {"type": "right_turn_forward"}}, 10),
    ("camera left_turn_forward", {"camera_control": {"type": "left_turn_forward"}}, 10),
    ("camera preset null config", {"camera_control": {"type": "down_back", "config": None}}, 10),
    ("camera simple zoom", {"camera_control": {"type": "simple", "config": {"zoom": -10}}}, 10),
    (
        "camera simple as in the seed",
        {
            "camera_control": {
                "type": "simple",
                "config": {
                    "horizontal": 5,
                    "vertical": 0,
                    "zoom": 3,
                    "roll": 0,
                    "pan": 0,
                    "tilt": -2,
                },
            }
        },
        10,
    ),
    ("sound on v2-6", {"model_name": "kling-v2-6", "sound": "on"}, 10),
    ("sound off v1", {"sound": "off"}, 10),
    ("motion_has_audio v2-6", {"model_name": "kling-v2-6", "motion_has_audio": True}, 10),
    ("motion_has_audio false v1", {"motion_has_audio": False}, 10),
    ("negative prompt 2500", {"negative_prompt": "n" * 2500}, 10),
    ("prompt 2500", {"prompt": "p" * 2500}, 10),
    ("empty callback_url", {"callback_url": ""}, 10),
]


@pytest.mark.parametrize(("fields", "price"), [g[1:] for g in GOOD], ids=[g[0] for g in GOOD])
def test_valid_variants_accepted_and_priced(server, http, payer, fields, price):
    body = {"prompt": PROMPT, **fields}
    credits_before, tasks_before = state(http, server, payer)
    resp = send(http, server, "POST", PATH, json=body, account=payer)
    assert resp.status_code == 200, resp.text
    envelope = resp.json()
    assert envelope["code"] == 0 and envelope["message"] == "SUCCEED"
    task = envelope["data"]
    assert task["task_status"] == "submitted"
    assert task["final_unit_deduction"] == str(price)
    credits_after, tasks_after = state(http, server, payer)
    assert credits_after == credits_before - price
    assert [t["task_id"] for t in tasks_after] == [task["task_id"]] + [
        t["task_id"] for t in tasks_before
    ]


def test_json_content_type_is_not_required(server, http, payer):
    # Some Kling clients omit the header or send text/plain; the body is what counts.
    body = json.dumps({"prompt": PROMPT})
    headers = {"Content-Type": "text/plain"}
    resp = send(http, server, "POST", PATH, account=payer, content=body, headers=headers)
    assert resp.status_code == 200, resp.text
