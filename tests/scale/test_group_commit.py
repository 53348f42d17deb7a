"""Concurrent creates share transactions, yet each gets its own exact answer: credits, the
unfinished-task limit and external ids hold under a burst, on SQLite and on PostgreSQL with two
API processes writing to one database."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from openkling.store.db import make_engine

from .conftest import LiveServer


def burst(servers: list[LiveServer], bodies: list[dict], headers: dict) -> list[httpx.Response]:
    """POST every body at once, spread over the servers (one client per request)."""

    def post(i: int) -> httpx.Response:
        server = servers[i % len(servers)]
        return httpx.post(
            server.base_url + "/v1/videos/text2video", json=bodies[i], headers=headers, timeout=60
        )

    with ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(post, range(len(bodies))))


def db_url(server: LiveServer) -> str:
    return server.env.get("OPENKLING_DATABASE_URL") or f"sqlite:///{server.data_dir}/openkling.db"


def ledger_and_tasks(server: LiveServer, access_key: str) -> tuple[int, int, int, int]:
    """(balance, tasks, charges, sum of charges) of one account, read from the store."""
    engine = make_engine(db_url(server))
    with engine.connect() as conn:
        account_id, balance = conn.execute(
            text("SELECT id, balance_milli FROM accounts WHERE access_key = :k"), {"k": access_key}
        ).one()
        tasks = conn.execute(
            text("SELECT count(*) FROM tasks WHERE account_id = :a"), {"a": account_id}
        ).scalar_one()
        charges, total = conn.execute(
            text(
                "SELECT count(*), coalesce(sum(delta_milli), 0) FROM ledger "
                "WHERE account_id = :a AND kind = 'charge'"
            ),
            {"a": account_id},
        ).one()
    engine.dispose()
    return balance, tasks, charges, -total


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request, tmp_path):
    """One API server on SQLite, or two on one PostgreSQL database; no engine runs, so
    accepted tasks stay unfinished."""
    env = {"OPENKLING_WORKERS": "0", "OPENKLING_RATE_LIMIT_PER_MINUTE": "0"}
    count = 1
    if request.param == "postgresql":
        env["OPENKLING_DATABASE_URL"] = request.getfixturevalue("pg_url")
        count = 2
    servers: list[LiveServer] = []

    def start(**extra) -> list[LiveServer]:
        first = LiveServer(data_dir=tmp_path / "a", env={**env, **extra}).start()
        servers.append(first)
        for i in range(1, count):
            other = LiveServer(data_dir=tmp_path / f"h{i}", env={**env, **extra})
            other.account = first.account  # same database, same accounts
            servers.append(other.start())
        return list(servers)

    yield start
    for server in servers:
        server.stop()


def test_credits_are_exact_under_a_burst(api):
    servers = api(OPENKLING_MAX_CONCURRENT_TASKS="0")
    poor = servers[0].new_account(credits=70)  # seven 5 s std tasks at 10 credits
    responses = burst(servers, [{"prompt": f"burst {i}"} for i in range(24)], poor.headers())
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(ok) == 7
    assert {r.status_code for r in refused} == {402}
    for r in refused:
        body = r.json()
        assert body["code"] == 1102 and "data" not in body
        assert body["message"] == "account balance is 0 credits; this task costs 10"
    assert len({r.json()["data"]["task_id"] for r in ok}) == 7
    assert ledger_and_tasks(servers[0], poor.access_key) == (0, 7, 7, 70_000)


def test_unfinished_task_limit_is_exact_under_a_burst(api):
    servers = api(OPENKLING_MAX_CONCURRENT_TASKS="5")
    account = servers[0].new_account(credits=1000)
    responses = burst(servers, [{"prompt": f"limit {i}"} for i in range(20)], account.headers())
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 5 + [429] * 15
    for r in responses:
        if r.status_code == 429:
            assert r.json()["code"] == 1303
            assert r.json()["message"] == "this account has 5 unfinished tasks; the limit is 5"
    assert ledger_and_tasks(servers[0], account.access_key) == (950_000, 5, 5, 50_000)


def test_one_external_id_is_taken_once_and_others_go_ahead(api):
    servers = api(OPENKLING_MAX_CONCURRENT_TASKS="0")
    account = servers[0].new_account(credits=1000)
    bodies = [{"prompt": "same", "external_task_id": "order-1"} for _ in range(10)]
    bodies += [{"prompt": "own", "external_task_id": f"order-{i}"} for i in range(2, 8)]
    responses = burst(servers, bodies, account.headers())
    same = responses[:10]
    assert sorted(r.status_code for r in same) == [200] + [400] * 9
    for r in same:
        if r.status_code == 400:
            assert r.json() == {
                "code": 1201,
                "message": "external_task_id: 'order-1' is already used by another task of "
                "this account",
                "request_id": r.headers["x-request-id"],
            }
    assert all(r.status_code == 200 for r in responses[10:])
    winner = next(r for r in same if r.status_code == 200).json()["data"]
    got = servers[0].request("GET", "/v1/videos/text2video/order-1", account=account).json()["data"]
    assert got["task_id"] == winner["task_id"]
    assert ledger_and_tasks(servers[0], account.access_key) == (930_000, 7, 7, 70_000)
    # a refused create leaves no task, charge or callback behind
    engine = make_engine(db_url(servers[0]))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT request FROM tasks")).scalars().all()
    engine.dispose()
    prompts = [(json.loads(r) if isinstance(r, str) else r)["prompt"] for r in rows]
    assert prompts.count("same") == 1
