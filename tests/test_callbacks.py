"""Callbacks: a real local receiver verifies Standard Webhooks signatures; delivery survives a
receiver outage and a server restart (the outbox lives in the task store)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from openkling.config import Settings
from openkling.runtime import open_store
from openkling.store.db import now_ms
from openkling.store.models import Account
from openkling.tasks.callbacks import (
    PER_ACCOUNT,
    PER_DESTINATION,
    SENDERS,
    CallbackSender,
    enqueue,
)
from support.harness import AppServer
from support.server import free_port
from support.webhooks import Receiver


@pytest.fixture
def receiver_port():
    return free_port()


def test_callbacks_signed_and_delivered_in_order(app_factory, receiver_port):
    server = app_factory()
    receiver = Receiver(server.webhook_secret, receiver_port)
    receiver.start()
    try:
        body = {"prompt": "a paper boat on a pond", "callback_url": receiver.url}
        task_id = server.request("POST", "/v1/videos/text2video", json=body).json()["data"][
            "task_id"
        ]
        got = receiver.wait_for(task_id, "succeed")
        statuses = [p["task_status"] for p in got]
        assert statuses == ["submitted", "processing", "succeed"]
        final = got[-1]
        # the bare task object, not the envelope
        assert "code" not in final and final["task_id"] == task_id
        assert final["task_result"]["videos"][0]["url"].startswith("http")
        assert receiver.rejected == 0
        assert len(set(receiver.ids)) == len(receiver.ids)  # one webhook-id per message
    finally:
        receiver.stop()


def test_wrong_secret_is_detected_by_receiver(app_factory, receiver_port):
    server = app_factory()
    other = server.new_account()
    receiver = Receiver(other.webhook_secret, receiver_port)  # verifies with the wrong secret
    receiver.start()
    try:
        body = {"prompt": "a red kite", "callback_url": receiver.url}
        server.request("POST", "/v1/videos/text2video", json=body)
        deadline = time.monotonic() + 30
        while receiver.rejected == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert receiver.rejected > 0 and receiver.received == []
    finally:
        receiver.stop()


def test_delivery_after_receiver_outage_and_server_restart(app_factory, receiver_port):
    server = app_factory()
    receiver = Receiver(server.webhook_secret, receiver_port, listen=False)  # an outage
    body = {"prompt": "a windmill at dusk", "callback_url": receiver.url}
    task_id = server.request("POST", "/v1/videos/text2video", json=body).json()["data"]["task_id"]
    assert server.wait_task(task_id)["task_status"] == "succeed"
    time.sleep(1.0)  # a few failed attempts pile up in the outbox
    server.stop()

    receiver.start()
    try:
        restarted = AppServer(data_dir=server.data_dir, env=server.env, account=server.account)
        restarted.start()
        try:
            got = receiver.wait_for(task_id, "succeed", timeout=60)
            assert [p["task_status"] for p in got] == ["submitted", "processing", "succeed"]
            assert json.dumps(got[-1]["task_result"])  # the final object carries the result
        finally:
            restarted.stop()
    finally:
        receiver.stop()


def test_a_hanging_receiver_does_not_hold_up_other_callbacks(app_factory):
    server = app_factory(env={"OPENKLING_CALLBACK_TIMEOUT_SECONDS": "60"})
    release = threading.Event()
    hung = []

    class Hang(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            hung.append(self.headers["webhook-id"])
            release.wait(60)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    stuck = ThreadingHTTPServer(("127.0.0.1", free_port()), Hang)
    threading.Thread(target=stuck.serve_forever, daemon=True).start()
    good = Receiver(server.webhook_secret, free_port())
    good.start()
    try:
        stuck_url = f"http://127.0.0.1:{stuck.server_port}/hook"
        server.request(
            "POST", "/v1/videos/text2video", json={"prompt": "a", "callback_url": stuck_url}
        )
        deadline = time.monotonic() + 30
        while not hung and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hung, "the hanging receiver was never called"
        body = {"prompt": "a pier at dawn", "callback_url": good.url}
        task_id = server.request("POST", "/v1/videos/text2video", json=body).json()["data"][
            "task_id"
        ]
        got = good.wait_for(task_id, "succeed")
        assert [p["task_status"] for p in got] == ["submitted", "processing", "succeed"]
        assert not release.is_set()  # all of that while the other receiver still hangs
    finally:
        release.set()
        good.stop()
        stuck.shutdown()
        stuck.server_close()


def test_a_receiver_that_always_fails_is_given_up_and_later_changes_still_go(app_factory):
    import sqlite3

    server = app_factory(env={"OPENKLING_CALLBACK_MAX_ATTEMPTS": "2"})
    calls: list[str] = []

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["content-length"]))
            calls.append(self.headers["webhook-id"])
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    refusing = ThreadingHTTPServer(("127.0.0.1", free_port()), Refuse)
    threading.Thread(target=refusing.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{refusing.server_port}/hook"
        body = {"prompt": "a kettle on a stove", "callback_url": url}
        task_id = server.request("POST", "/v1/videos/text2video", json=body).json()["data"][
            "task_id"
        ]
        assert server.wait_task(task_id)["task_status"] == "succeed"
        deadline = time.monotonic() + 60
        states: list[tuple] = []
        while time.monotonic() < deadline:
            with sqlite3.connect(server.data_dir / "openkling.db") as db:
                states = db.execute(
                    "SELECT state, attempts, last_error FROM callbacks WHERE task_id = ? "
                    "ORDER BY id",
                    (task_id,),
                ).fetchall()
            if len(states) == 3 and all(s == "dead" for s, _, _ in states):
                break
            time.sleep(0.2)
        # each status change was tried twice, then given up; none blocked the next
        assert [(s, n) for s, n, _ in states] == [("dead", 2)] * 3, states
        assert all("HTTP 500" in err for _, _, err in states)
        assert len(calls) == 6 and len(set(calls)) == 3  # same webhook-id on each retry
    finally:
        refusing.shutdown()
        refusing.server_close()


def test_one_tenants_hanging_receivers_only_slow_that_tenant(app_factory):
    """Tenant A's receivers hang (bounded); tenant B's callbacks still arrive, all of them,
    while A's are still held. A holds no more than its share of the sender's slots: at most
    PER_DESTINATION on one receiver and PER_ACCOUNT in all."""
    server = app_factory(env={"OPENKLING_CALLBACK_TIMEOUT_SECONDS": "60"})
    tenant_a, tenant_b = server.new_account(name="a"), server.new_account(name="b")
    release = threading.Event()
    held: list[int] = []  # the port of each POST being held

    class Hang(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            held.append(self.server.server_port)
            release.wait(60)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    stuck = [ThreadingHTTPServer(("127.0.0.1", free_port()), Hang) for _ in range(3)]
    for hanging in stuck:
        hanging.daemon_threads = True
        threading.Thread(target=hanging.serve_forever, daemon=True).start()
    good = Receiver(tenant_b.webhook_secret, free_port())
    good.start()
    try:
        for i in range(12):  # the oldest six all go to the first receiver
            port = stuck[0 if i < 6 else 1 + i % 2].server_port
            body = {"prompt": f"a kite {i}", "callback_url": f"http://127.0.0.1:{port}/hook"}
            resp = server.request("POST", "/v1/videos/text2video", json=body, account=tenant_a)
            task_id = resp.json()["data"]["task_id"]
            server.request("POST", f"/v1/videos/text2video/{task_id}/cancel", account=tenant_a)
        deadline = time.monotonic() + 30
        while len(held) < PER_ACCOUNT and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(held) == PER_ACCOUNT, held

        body = {"prompt": "a pier at dawn", "callback_url": good.url}
        resp = server.request("POST", "/v1/videos/text2video", json=body, account=tenant_b)
        task_id = resp.json()["data"]["task_id"]
        got = good.wait_for(task_id, "succeed", timeout=40)  # A holds its posts for 60 s
        assert [p["task_status"] for p in got] == ["submitted", "processing", "succeed"]
        assert not release.is_set()  # all of that while A's receivers still hang
        assert len(held) == PER_ACCOUNT  # A never took more slots, though 12 were due
        assert max(held.count(h.server_port) for h in stuck) == PER_DESTINATION
    finally:
        release.set()
        good.stop()
        for hanging in stuck:
            hanging.shutdown()
            hanging.server_close()


def test_rows_of_saturated_destinations_and_accounts_are_skipped_not_waited_on(tmp_path):
    """The sender's choice, pass by pass, with no receiver at all: however many rows one
    destination or account has queued ahead, the next pass still takes everyone else's."""
    settings = Settings(data_dir=tmp_path)
    sessions = open_store(settings)
    with sessions.begin() as s:
        a, b = (
            Account(
                name=n,
                access_key=f"ak-{n}",
                secret_key=f"sk-{n}",
                webhook_secret="whsec_x",
                created_at=now_ms(),
                balance_milli=0,
            )  # fmt: skip
            for n in "ab"
        )
        s.add_all([a, b])
        s.flush()
        for i in range(SENDERS * 8):  # far more than one pass looks at, all ahead of B's row
            enqueue(s, task_id=f"a{i}", account_id=a.id, url="http://a.example/hook", payload={})
        for i in range(4):  # A's other destinations: only the account cap stops these
            enqueue(s, task_id=f"x{i}", account_id=a.id, url=f"http://x{i}.example/", payload={})
        enqueue(s, task_id="b", account_id=b.id, url="http://b.example/hook", payload={})
    sender = CallbackSender(settings, sessions)
    try:
        taken = [r.task_id for r in sender._take()]
        taken += [r.task_id for r in sender._take()]  # what the next pass finds
        assert taken.count("b") == 1
        mine = [t for t in taken if t != "b"]
        assert len(mine) == PER_ACCOUNT
        assert len([t for t in mine if t.startswith("a")]) == PER_DESTINATION
        assert sender._take() == []  # nothing more until a post finishes
    finally:
        sender.stop()
        sessions.engine.dispose()
