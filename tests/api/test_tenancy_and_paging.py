"""Tenant isolation, external_task_id lookups, list paging and the wire types of a task."""

from __future__ import annotations

import time

import httpx
import pytest

from support.accounts import Account
from support.harness import AppServer

ENV = {
    "OPENKLING_WORKERS": "0",  # tasks stay submitted: nothing moves under the assertions
    "OPENKLING_MAX_CONCURRENT_TASKS": "0",
    "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
}
PATH = "/v1/videos/text2video"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(data_dir=tmp_path_factory.mktemp("tenancy"), env=ENV) as server:
        yield server


@pytest.fixture(scope="module")
def http(server):
    return server.client


@pytest.fixture(scope="module")
def alice(server) -> Account:
    return server.account


@pytest.fixture(scope="module")
def bob(server) -> Account:
    return server.new_account(credits=1000, name="bob")


def send(http, account: Account, method: str, path: str, **kw) -> httpx.Response:
    return http.request(method, path, headers=account.headers(), **kw)


def data(resp: httpx.Response):
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 0 and body["message"] == "SUCCEED", body
    return body["data"]


def create(http, account: Account, **fields) -> dict:
    return data(send(http, account, "POST", PATH, json={"prompt": "a quiet harbour", **fields}))


def balance(http, account: Account) -> float:
    info = data(send(http, account, "GET", "/account/costs"))
    return info["resource_pack_subscribe_infos"][0]["remaining_quantity"]


def listing(http, account: Account, query: str = "pageSize=500") -> list[dict]:
    return data(send(http, account, "GET", f"{PATH}?{query}"))


def assert_not_found(resp: httpx.Response, shown: str) -> None:
    assert resp.status_code == 404, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"}
    assert body["code"] == 1203
    assert "does not exist" in body["message"] and shown in body["message"]


def test_other_account_sees_nothing(http, alice, bob):
    task = create(http, alice, external_task_id="alice-order-1")
    task_id = task["task_id"]
    alice_before = (balance(http, alice), listing(http, alice))
    bob_before = (balance(http, bob), listing(http, bob))

    for path in (
        f"{PATH}/{task_id}",
        f"{PATH}/alice-order-1",
        f"{PATH}?external_task_id=alice-order-1",
        f"{PATH}/{task_id}?external_task_id=alice-order-1",
    ):
        assert_not_found(send(http, bob, "GET", path), "")
    assert_not_found(send(http, bob, "POST", f"{PATH}/{task_id}/cancel"), task_id)
    assert_not_found(send(http, bob, "POST", f"{PATH}/alice-order-1/cancel"), "alice-order-1")
    assert task_id not in {t["task_id"] for t in listing(http, bob)}

    # Bob's attempts changed nothing on either side: Alice's task is still submitted.
    assert (balance(http, alice), listing(http, alice)) == alice_before
    assert (balance(http, bob), listing(http, bob)) == bob_before
    assert data(send(http, alice, "GET", f"{PATH}/{task_id}"))["task_status"] == "submitted"


def test_not_found_message_is_the_same_for_foreign_and_missing(http, alice, bob):
    foreign = create(http, alice)["task_id"]
    missing = str(int(foreign) + 1)
    a = send(http, bob, "GET", f"{PATH}/{foreign}").json()["message"]
    b = send(http, bob, "GET", f"{PATH}/{missing}").json()["message"]
    assert a.replace(foreign, "ID") == b.replace(missing, "ID")


def test_same_external_id_in_two_accounts(http, alice, bob):
    mine = create(http, alice, external_task_id="shared-ext-7")
    theirs = create(http, bob, external_task_id="shared-ext-7")
    assert mine["task_id"] != theirs["task_id"]
    for account, task in ((alice, mine), (bob, theirs)):
        for path in (f"{PATH}/shared-ext-7", f"{PATH}?external_task_id=shared-ext-7"):
            got = data(send(http, account, "GET", path))
            assert got["task_id"] == task["task_id"]
            assert got["task_info"] == {"external_task_id": "shared-ext-7"}


def test_get_by_task_id_and_external_id(http, alice):
    task = create(http, alice, external_task_id="lookup-me")
    by_id = data(send(http, alice, "GET", f"{PATH}/{task['task_id']}"))
    by_path = data(send(http, alice, "GET", f"{PATH}/lookup-me"))
    by_query = data(send(http, alice, "GET", f"{PATH}?external_task_id=lookup-me"))
    assert by_id == by_path == by_query
    assert by_id["task_id"] == task["task_id"]
    assert by_id["task_info"] == {"external_task_id": "lookup-me"}


def test_cancel_by_external_id(http, alice):
    task = create(http, alice, external_task_id="cancel-me")
    data(send(http, alice, "POST", f"{PATH}/cancel-me/cancel"))
    got = data(send(http, alice, "GET", f"{PATH}/{task['task_id']}"))
    assert got["task_status"] == "failed"


@pytest.mark.parametrize(
    "path",
    [f"{PATH}/000000000000000000", f"{PATH}/no-such-external-id", f"{PATH}?external_task_id=nope"],
)
def test_unknown_task_is_404(http, alice, path):
    assert_not_found(send(http, alice, "GET", path), "")


def test_paging_newest_first_without_overlap(http, server):
    carol = server.new_account(credits=1000, name="carol")
    created = [create(http, carol, external_task_id=f"page-{i}")["task_id"] for i in range(7)]
    newest_first = created[::-1]

    pages = [listing(http, carol, f"pageNum={n}&pageSize=3") for n in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [3, 3, 1, 0]
    seen = [t["task_id"] for page in pages for t in page]
    assert seen == newest_first
    assert len(set(seen)) == len(seen)

    assert [t["task_id"] for t in listing(http, carol, "")] == newest_first  # defaults: 1 / 30
    assert [t["task_id"] for t in listing(http, carol, "pageSize=500")] == newest_first
    assert [t["task_id"] for t in listing(http, carol, "pageNum=2&pageSize=5")] == newest_first[5:]
    assert listing(http, carol, "pageNum=1000&pageSize=500") == []
    one = listing(http, carol, "pageNum=7&pageSize=1")
    assert [t["task_id"] for t in one] == [created[0]]
    assert one[0]["task_info"] == {"external_task_id": "page-0"}


def test_list_data_is_a_bare_array(http, alice):
    create(http, alice)
    body = send(http, alice, "GET", f"{PATH}?pageNum=1&pageSize=2").json()
    assert isinstance(body["data"], list) and len(body["data"]) == 2
    assert all(isinstance(t, dict) and "task_id" in t for t in body["data"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("pageSize=501", "pageSize"),
        ("pageSize=0", "pageSize"),
        ("pageSize=-1", "pageSize"),
        ("pageSize=ten", "pageSize"),
        ("pageNum=0", "pageNum"),
        ("pageNum=1001", "pageNum"),
        ("pageNum=x", "pageNum"),
        ("pageNum=1.5", "pageNum"),
    ],
)
def test_bad_paging_is_1201(http, alice, query, field):
    resp = send(http, alice, "GET", f"{PATH}?{query}")
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"}
    assert body["code"] == 1201
    assert body["message"].startswith(f"{field}: "), body


def test_task_object_types(http, alice):
    before = int(time.time() * 1000)
    plain = create(http, alice)
    tagged = create(http, alice, external_task_id="typed-1", mode="pro", duration="10")
    after = int(time.time() * 1000)
    for created in (plain, tagged):
        got = data(send(http, alice, "GET", f"{PATH}/{created['task_id']}"))
        # nothing ran (no workers), so the stored object is what came back, and a read adds
        # the task's place in line (docs/scheduling.md)
        assert type(got.pop("queue_position")) is int
        assert type(got.pop("queue_eta_seconds", 0)) is int
        assert got == created
        assert isinstance(got["task_id"], str) and got["task_id"].isdigit()
        assert got["task_status"] == "submitted"
        assert isinstance(got["task_status_msg"], str)
        for key in ("created_at", "updated_at"):
            assert type(got[key]) is int
            assert before - 1000 <= got[key] <= after + 1000  # milliseconds, not seconds
        assert got["updated_at"] >= got["created_at"]
        assert isinstance(got["final_unit_deduction"], str)
        assert "task_result" not in got
    assert plain["task_info"] == {}
    assert tagged["task_info"] == {"external_task_id": "typed-1"}
    assert plain["final_unit_deduction"] == "10"
    assert tagged["final_unit_deduction"] == "70"


def test_unknown_endpoint_uses_the_error_envelope(http, alice):
    resp = send(http, alice, "GET", "/v1/videos/image2video/123")
    assert resp.status_code == 404
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"}
    assert body["request_id"] == resp.headers["x-request-id"]


def test_trailing_slash_is_the_same_route(live_server):
    created = live_server.request(
        "POST", "/v1/videos/text2video/", json={"prompt": "a slash at the end"}
    )
    assert created.status_code == 200, created.text
    task_id = created.json()["data"]["task_id"]
    got = live_server.request("GET", f"/v1/videos/text2video/{task_id}/")
    assert got.status_code == 200 and got.json()["data"]["task_id"] == task_id
    listed = live_server.request("GET", "/v1/videos/text2video/?pageSize=5")
    assert task_id in [t["task_id"] for t in listed.json()["data"]]
