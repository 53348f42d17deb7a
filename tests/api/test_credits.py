"""Credits over HTTP: the price table, 402 when short, refunds of failed tasks, rate and
concurrency limits and maintenance, each against its own real server."""

from __future__ import annotations

import time

import httpx
import pytest

from support.accounts import Account
from support.engines import GatedEngine
from support.harness import AppServer

PATH = "/v1/videos/text2video"
QUIET = {"OPENKLING_WORKERS": "0", "OPENKLING_RATE_LIMIT_PER_MINUTE": "0"}
SERVERS = {
    # no engine runs: tasks stay submitted, so balances move only by what the API does
    "priced": {**QUIET, "OPENKLING_MAX_CONCURRENT_TASKS": "0"},
    # one worker running the synthetic engine; pro renders big enough to be caught mid-run
    "engines": {"OPENKLING_WORKERS": "1"},  # renders wait at a gate the test opens
    "rate": {"OPENKLING_WORKERS": "0", "OPENKLING_RATE_LIMIT_PER_MINUTE": "2"},
    "concurrency": {**QUIET, "OPENKLING_MAX_CONCURRENT_TASKS": "1"},
    "maintenance": {**QUIET, "OPENKLING_MAINTENANCE": "1"},
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> dict[str, AppServer]:
    """All of this module's servers (the app in this process, one per settings)."""
    made: dict[str, AppServer] = {}
    try:
        for name, env in SERVERS.items():
            engine = GatedEngine() if name == "engines" else None
            data_dir = tmp_path_factory.mktemp(f"credits-{name}")
            made[name] = AppServer(data_dir=data_dir, env=env, engine=engine).start()
        yield made
    finally:
        for server in made.values():
            server.stop()


@pytest.fixture(scope="module")
def http():
    """Unused by the requests (each server has its own client); kept for the tests' signature."""
    return None


class Api:
    """One account on one server, over a shared keep-alive client."""

    def __init__(self, http: httpx.Client, server: AppServer, account: Account) -> None:
        self.http, self.server, self.account = http, server, account

    def send(self, method: str, path: str, **kw) -> httpx.Response:
        return self.server.client.request(method, path, headers=self.account.headers(), **kw)

    def ok(self, method: str, path: str, **kw):
        resp = self.send(method, path, **kw)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["code"] == 0 and body["message"] == "SUCCEED"
        return body["data"]

    def create(self, **fields) -> dict:
        return self.ok("POST", PATH, json={"prompt": "a windmill in a storm", **fields})

    def get(self, task_id: str) -> dict:
        return self.ok("GET", f"{PATH}/{task_id}")

    def costs(self) -> tuple[float, float]:
        pack = self.ok("GET", "/account/costs")["resource_pack_subscribe_infos"][0]
        return pack["total_quantity"], pack["remaining_quantity"]

    def balance(self) -> float:
        return self.costs()[1]

    def tasks(self) -> list[dict]:
        return self.ok("GET", f"{PATH}?pageSize=500")

    def wait(self, task_id: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.get(task_id)
            if task["task_status"] in ("succeed", "failed"):
                return task
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} did not finish:\n{self.server.log()[-3000:]}")


def api(http, servers, name: str, credits: float | None = None) -> Api:
    """The server's first account (1000 credits), or a new one with ``credits``."""
    server = servers[name]
    account = server.account if credits is None else server.new_account(credits=credits)
    return Api(http, server, account)


def assert_error(resp: httpx.Response, status: int, code: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["code"] == code
    return body["message"]


def test_price_table(http, servers):
    a = api(http, servers, "priced")
    total, start = a.costs()
    table = [("std", "5", "10"), ("std", "10", "20"), ("pro", "5", "35"), ("pro", "10", "70")]
    spent = 0.0
    for mode, duration, price in table:
        task = a.create(mode=mode, duration=duration)
        assert task["final_unit_deduction"] == price
        assert a.get(task["task_id"])["final_unit_deduction"] == price
        spent += float(price)
        assert a.costs() == (total, start - spent)  # granted stays, remaining drops
    assert spent == 135.0


def test_short_balance_is_402_and_stores_nothing(http, servers):
    a = api(http, servers, "priced", credits=30)
    message = assert_error(a.send("POST", PATH, json={"prompt": "x", "mode": "pro"}), 402, 1102)
    assert "30" in message and "35" in message
    assert a.balance() == 30.0 and a.tasks() == []

    a.create(duration="10")  # 20 of 30
    assert a.balance() == 10.0
    assert_error(a.send("POST", PATH, json={"prompt": "x", "duration": "10"}), 402, 1102)
    assert a.balance() == 10.0 and len(a.tasks()) == 1
    a.create()  # exactly the 10 left
    assert a.balance() == 0.0
    assert_error(a.send("POST", PATH, json={"prompt": "x"}), 402, 1102)
    assert a.balance() == 0.0 and len(a.tasks()) == 2


def test_cancelled_submitted_task_is_refunded_once(http, servers):
    a = api(http, servers, "priced")
    start = a.balance()
    task = a.create(mode="pro", duration="10", external_task_id="refund-me")
    assert a.balance() == start - 70
    cancelled = a.ok("POST", f"{PATH}/{task['task_id']}/cancel")
    assert cancelled["task_status"] == "failed"
    got = a.get(task["task_id"])
    assert got["task_status"] == "failed"
    assert "cancel" in got["task_status_msg"]
    assert got["final_unit_deduction"] == "0"
    assert got["task_info"] == {"external_task_id": "refund-me"}
    assert got["updated_at"] >= got["created_at"]
    assert a.balance() == start
    # a finished task cannot be cancelled again, and nothing is refunded twice
    message = assert_error(a.send("POST", f"{PATH}/{task['task_id']}/cancel"), 400, 1201)
    assert "already finished" in message
    assert a.balance() == start


def test_failed_tasks_are_refunded_with_engines_running(http, servers):
    a = api(http, servers, "engines")
    blocker = a.create(mode="pro", duration="10")  # 70: holds the one worker at the gate
    queued = a.create(mode="pro", duration="5")  # 35: waits behind it, still submitted
    assert a.balance() == 895.0

    a.server.engine.wait_started()
    assert a.get(blocker["task_id"])["task_status"] == "processing"
    assert a.get(queued["task_id"])["task_status"] == "submitted"
    a.ok("POST", f"{PATH}/{queued['task_id']}/cancel")
    a.ok("POST", f"{PATH}/{blocker['task_id']}/cancel")

    for task in (queued, blocker):
        done = a.wait(task["task_id"])
        assert done["task_status"] == "failed"
        assert done["task_status_msg"]
        assert done["final_unit_deduction"] == "0"
        assert "task_result" not in done
    assert a.balance() == 1000.0

    # a task that succeeds keeps its charge
    a.server.engine.release()
    ok = a.wait(a.create()["task_id"])
    assert ok["task_status"] == "succeed", ok
    assert ok["final_unit_deduction"] == "10"
    video = ok["task_result"]["videos"][0]
    assert isinstance(video["duration"], str) and isinstance(video["url"], str)
    assert a.balance() == 990.0


def test_rate_limit_is_429_and_charges_nothing(http, servers):
    a = api(http, servers, "rate")
    for _ in range(3):  # refused input is not a create: it does not count toward the limit
        assert_error(a.send("POST", PATH, json={"prompt": ""}), 400, 1201)
    a.create()
    a.create()
    resp = a.send("POST", PATH, json={"prompt": "one too many"})
    message = assert_error(resp, 429, 1302)
    assert "2" in message
    assert resp.headers.get("retry-after")
    assert a.balance() == 980.0 and len(a.tasks()) == 2
    # the limit is per account: another account still gets through
    b = api(http, servers, "rate", credits=100)
    b.create()
    assert b.balance() == 90.0


def test_concurrency_limit_is_429_and_charges_nothing(http, servers):
    a = api(http, servers, "concurrency")
    first = a.create()
    resp = a.send("POST", PATH, json={"prompt": "second at once"})
    message = assert_error(resp, 429, 1303)
    assert "1" in message
    assert a.balance() == 990.0 and len(a.tasks()) == 1
    # once the first is finished (cancelled here), the account may start another
    a.ok("POST", f"{PATH}/{first['task_id']}/cancel")
    a.create()
    assert a.balance() == 990.0 and len(a.tasks()) == 2


def test_maintenance_is_503(http, servers):
    server = servers["maintenance"]
    a = Api(http, server, server.account)
    for method, path in [
        ("POST", PATH),
        ("GET", PATH),
        ("GET", f"{PATH}/123456789012345678"),
        ("GET", "/account/costs"),
    ]:
        resp = a.send(method, path, json={"prompt": "x"} if method == "POST" else None)
        assert_error(resp, 503, 5001)
        assert resp.headers.get("retry-after")
    assert server.client.get("/readyz").status_code == 503
    assert server.client.get("/healthz").status_code == 200
