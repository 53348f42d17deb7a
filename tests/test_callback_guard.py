"""SSRF through callback_url, over HTTP against a real server that admits no private address
(OPENKLING_URL_ALLOW empty): every spelling of a loopback, private or metadata destination is
refused at create with 400 / 1201 and changes nothing; a name that resolves to loopback passes
create and is refused at delivery. A loopback receiver proves that nothing reached it."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from support.harness import AppServer
from support.webhooks import Sink

PATH = "/v1/videos/text2video"
ENV = {
    "OPENKLING_URL_ALLOW": "",  # the default: the tests' loopback receivers are not admitted
    "OPENKLING_CALLBACK_MAX_ATTEMPTS": "2",
}


@pytest.fixture(scope="module")
def sink():
    sink = Sink()
    yield sink
    sink.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("ssrf"), env=ENV)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def create(http, server, account, callback_url: str) -> httpx.Response:
    body = {"prompt": "a lighthouse in fog", "callback_url": callback_url}
    return http.post(PATH, json=body, headers=account.headers())


def callback_rows(server, task_id: str | None = None) -> list[tuple]:
    with sqlite3.connect(server.data_dir / "openkling.db") as db:
        if task_id is None:
            return db.execute("SELECT state, attempts, last_error FROM callbacks").fetchall()
        return db.execute(
            "SELECT state, attempts, last_error FROM callbacks WHERE task_id = ? ORDER BY id",
            (task_id,),
        ).fetchall()


# issue 13 item 1: what was accepted at create and POSTed at delivery ({p}: the sink's port)
SPELLINGS = [
    "http://127.0.0.1:{p}/hook",
    "http://[::1]:{p}/hook",
    "http://127.1:{p}/hook",
    "http://2130706433:{p}/hook",
    "http://0x7f000001:{p}/hook",
    "http://0177.0.0.1:{p}/hook",
    "http://0.0.0.0:{p}/hook",
    "http://user@127.0.0.1:{p}/hook",
    "http://example.com@127.0.0.1:{p}/hook",
    "HTTP://127.0.0.1:{p}/hook",
    "hTtP://127.0.0.1:{p}/hook",
    "http://[::ffff:127.0.0.1]:{p}/hook",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://192.168.0.1/hook",
    "http://172.31.255.255/hook",
    "http://100.100.100.200/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://224.0.0.251/hook",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata.google.internal./computeMetadata/v1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
]


@pytest.fixture(scope="module")
def refused(server, http, sink):
    """Send every spelling once from a fresh account; keep the answers."""
    account = server.new_account(credits=500)
    answers = {}
    for spelling in SPELLINGS:
        answers[spelling] = create(http, server, account, spelling.format(p=sink.port))
    return account, answers


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_create_refuses_every_spelling_with_1201(refused, spelling):
    _, answers = refused
    resp = answers[spelling]
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["code"] == 1201
    assert body["message"].startswith("callback_url: ")
    assert "must" in body["message"]  # says what is allowed
    assert "Error" not in body["message"] and "Traceback" not in body["message"]


def test_refused_creates_store_nothing_charge_nothing_and_call_nothing(refused, server, http, sink):
    account, _ = refused
    tasks = http.get(f"{PATH}?pageNum=1&pageSize=500", headers=account.headers()).json()["data"]
    assert tasks == []
    costs = http.get("/account/costs", headers=account.headers()).json()["data"]
    assert costs["resource_pack_subscribe_infos"][0]["remaining_quantity"] == 500
    assert callback_rows(server) == []
    assert sink.hits == []


def test_a_name_resolving_to_loopback_is_refused_at_delivery(server, http, sink):
    """`localhost` is a name (in /etc/hosts): it passes create, is resolved when the callback
    is sent, and every attempt is refused before any connection."""
    resp = create(http, server, server.account, f"http://localhost:{sink.port}/hook")
    assert resp.status_code == 200, resp.text
    task_id = resp.json()["data"]["task_id"]
    assert server.wait_task(task_id)["task_status"] == "succeed"
    deadline = time.monotonic() + 60
    rows: list[tuple] = []
    while time.monotonic() < deadline:
        rows = callback_rows(server, task_id)
        if len(rows) == 3 and all(state == "dead" for state, _, _ in rows):
            break
        time.sleep(0.2)
    assert [(state, attempts) for state, attempts, _ in rows] == [("dead", 2)] * 3, rows
    for _, _, error in rows:
        assert error.startswith("refused: localhost resolves to 127.0.0.1, in the loopback range")
    assert sink.hits == []
    assert "Traceback" not in server.log()
