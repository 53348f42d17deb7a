"""Racing creates: the per-account limit of unfinished tasks and the credit floor hold exactly
when many creates arrive at once on two API hosts, on PostgreSQL and on SQLite."""

from __future__ import annotations

import threading
from collections import Counter

import httpx

from .conftest import ApiServer, api_hosts, count

PATH = "/v1/videos/text2video"
RACERS = 40
# no engine runs: accepted tasks stay submitted, so every one counts against the limit
QUIET = {"OPENKLING_WORKERS": "0", "OPENKLING_RATE_LIMIT_PER_MINUTE": "0"}


def _race(hosts: list[ApiServer]) -> list[httpx.Response]:
    """RACERS creates of one account, released together, spread over the hosts."""
    barrier = threading.Barrier(RACERS)
    responses: list[httpx.Response | BaseException] = [None] * RACERS  # type: ignore[list-item]
    account = hosts[0].account

    def one(i: int) -> None:
        host = hosts[i % len(hosts)]
        with httpx.Client(timeout=60) as client:
            client.get(host.base_url + "/healthz")  # the connection is open before the race
            body = {"model_name": "kling-v1", "prompt": f"racer {i}", "duration": "5"}
            headers = account.headers()
            barrier.wait()
            try:
                responses[i] = client.post(host.base_url + PATH, json=body, headers=headers)
            except BaseException as exc:  # reported below, never lost in a thread
                responses[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    errors = [r for r in responses if not isinstance(r, httpx.Response)]
    assert not errors, errors
    return responses


def _outcomes(responses: list[httpx.Response]) -> Counter:
    return Counter((r.status_code, r.json()["code"]) for r in responses)


def test_racing_creates_never_pass_the_concurrency_limit(tmp_path, database_url):
    env = {**QUIET, "OPENKLING_DATABASE_URL": database_url, "OPENKLING_MAX_CONCURRENT_TASKS": "5"}
    hosts = api_hosts(tmp_path, env)
    try:
        outcomes = _outcomes(_race(hosts))
        assert outcomes == {(200, 0): 5, (429, 1303): RACERS - 5}, outcomes
        # the store agrees: 5 tasks, 5 charges, and the balance paid for exactly those
        key = hosts[0].access_key
        account = "(SELECT id FROM accounts WHERE access_key = ?)"
        tasks = f"SELECT count(*) FROM tasks WHERE account_id = {account}"
        assert count(database_url, tasks, key) == 5
        charges = f"SELECT count(*) FROM ledger WHERE kind = 'charge' AND account_id = {account}"
        assert count(database_url, charges, key) == 5
        balance = "SELECT balance_milli FROM accounts WHERE access_key = ?"
        assert count(database_url, balance, key) == (1000 - 5 * 10) * 1000
        # a finished task frees its slot: one more create is accepted, then the limit holds again
        listed = hosts[1].request("GET", PATH + "?pageNum=1&pageSize=30").json()["data"]
        assert len(listed) == 5
        cancel = hosts[1].request("POST", f"{PATH}/{listed[0]['task_id']}/cancel")
        assert cancel.status_code == 200, cancel.text
        again = _outcomes(_race(hosts))
        assert again == {(200, 0): 1, (429, 1303): RACERS - 1}, again
    finally:
        for host in hosts:
            host.stop()


def test_racing_creates_never_overdraw_the_balance(tmp_path, database_url):
    env = {**QUIET, "OPENKLING_DATABASE_URL": database_url, "OPENKLING_MAX_CONCURRENT_TASKS": "0"}
    hosts = api_hosts(tmp_path, env)
    try:
        poor = hosts[0].new_account(credits=70)  # kling-v1 std 5 s costs 10: seven tasks
        for host in hosts:
            host.account = poor
        outcomes = _outcomes(_race(hosts))
        assert outcomes == {(200, 0): 7, (402, 1102): RACERS - 7}, outcomes
        balance = "SELECT balance_milli FROM accounts WHERE access_key = ?"
        assert count(database_url, balance, poor.access_key) == 0
        charges = (
            "SELECT count(*) FROM ledger WHERE kind = 'charge' AND account_id = "
            "(SELECT id FROM accounts WHERE access_key = ?)"
        )
        assert count(database_url, charges, poor.access_key) == 7
    finally:
        for host in hosts:
            host.stop()
