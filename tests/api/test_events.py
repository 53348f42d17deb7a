"""Live task events (server-sent events), on their own: order, end, bounds, auth."""

from __future__ import annotations

import json
import queue
import threading
import time

import httpx
import pytest

from support.engines import GatedEngine
from support.harness import AppServer
from support.pictures import png_b64
from support.server import cli

ORDER = {"submitted": 0, "processing": 1, "succeed": 2, "failed": 2}


def read_events(server, path: str, *, account=None, timeout: float = 60) -> list[tuple[str, dict]]:
    """Every event of a stream, until the server ends it."""
    events = []
    headers = (account or server.account).headers()
    with httpx.stream("GET", server.base_url + path, headers=headers, timeout=timeout) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in resp.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line[5:])))
    return events


class Reader(threading.Thread):
    """Reads a stream in the background; ``next()`` returns its next task object."""

    def __init__(self, server, path: str, account=None) -> None:
        super().__init__(daemon=True)
        self.server, self.path, self.account = server, path, account or server.account
        self.events: queue.Queue = queue.Queue()
        self.names: list[str] = []  # the event name of each task object, in order
        self.client = httpx.Client(timeout=60)
        self.start()

    def run(self) -> None:
        try:
            with self.client.stream(
                "GET", self.server.base_url + self.path, headers=self.account.headers()
            ) as resp:
                name = None
                for line in resp.iter_lines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        self.names.append(name)
                        self.events.put(json.loads(line[5:]))
        except httpx.HTTPError:
            pass
        self.events.put(None)  # the stream ended

    def next(self, timeout: float = 20) -> dict | None:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory):
    """No worker: tasks stay submitted until cancelled. Two streams per account."""
    with AppServer(
        data_dir=tmp_path_factory.mktemp("events-idle"),
        env={
            "OPENKLING_WORKERS": "0",
            "OPENKLING_EVENTS_STREAMS_PER_ACCOUNT": "2",
            "OPENKLING_EVENTS_KEEPALIVE_SECONDS": "1",  # a closed stream is noticed soon
        },
        socket=True,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory):
    """A worker whose renders wait at a gate the test opens: progress shows between start
    and end for as long as the test needs."""
    with AppServer(
        data_dir=tmp_path_factory.mktemp("events-busy"),
        env={"OPENKLING_EVENTS_POLL_SECONDS": "0.2"},
        engine=GatedEngine(),
        socket=True,
    ) as server:
        yield server


def create(server, account=None, **body) -> str:
    body.setdefault("prompt", "a paper boat on a puddle")
    resp = server.request("POST", "/v1/videos/text2video", json=body, account=account)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["task_id"]


def test_task_events_arrive_in_order_and_end_at_succeed(busy_server):
    task_id = create(busy_server, mode="pro", duration="10")
    reader = Reader(busy_server, f"/v1/videos/text2video/{task_id}/events")
    tasks = []
    try:
        while not tasks or not 0 < tasks[-1]["task_progress"] < 100:  # held at the gate
            tasks.append(reader.next())
            assert tasks[-1] is not None, f"the stream ended before the render moved: {tasks}"
        busy_server.engine.release()
        while (task := reader.next()) is not None:
            tasks.append(task)
    finally:
        reader.close()

    assert reader.names == ["text2video"] * len(tasks)
    assert all(t["task_id"] == task_id for t in tasks)
    statuses = [ORDER[t["task_status"]] for t in tasks]
    progress = [t["task_progress"] for t in tasks]
    assert statuses == sorted(statuses) and progress == sorted(progress)
    assert len(set(map(json.dumps, tasks))) == len(tasks)  # one event per change, no repeats
    assert any(0 < p < 100 for p in progress), progress  # the bar moves, not only 0 then 100
    last = tasks[-1]
    assert last["task_status"] == "succeed" and last["task_progress"] == 100
    assert [s for s in statuses if s == 2] == [2]  # the stream ended at its terminal status
    stored = busy_server.request("GET", f"/v1/videos/text2video/{task_id}").json()["data"]
    assert last["task_result"]["videos"][0]["id"] == stored["task_result"]["videos"][0]["id"]
    assert last["final_unit_deduction"] == stored["final_unit_deduction"]
    # a stream opened on a finished task sends it once and ends
    again = read_events(busy_server, f"/v1/videos/text2video/{task_id}/events")
    assert [t["task_status"] for _, t in again] == ["succeed"]


def test_task_events_end_at_failed_when_the_task_is_cancelled(idle_server):
    task_id = create(idle_server)
    reader = Reader(idle_server, f"/v1/videos/text2video/{task_id}/events")
    try:
        assert reader.next()["task_status"] == "submitted"
        cancel = idle_server.request("POST", f"/v1/videos/text2video/{task_id}/cancel")
        assert cancel.status_code == 200
        last = reader.next()
        assert last["task_status"] == "failed"
        assert last["task_status_msg"] == "task was cancelled"
        assert last["final_unit_deduction"] == "0"
        assert reader.next() is None  # ended by the server
    finally:
        reader.close()


def test_account_events_send_the_queue_then_each_change(idle_server):
    account = idle_server.new_account(credits=100)
    first = create(idle_server, account=account, prompt="first")
    reader = Reader(idle_server, "/v1/events", account=account)
    try:
        assert reader.next()["task_id"] == first  # the queue as it is
        second = create(idle_server, account=account, prompt="second")
        seen = reader.next()
        assert (seen["task_id"], seen["task_status"]) == (second, "submitted")
        idle_server.request("POST", f"/v1/videos/text2video/{first}/cancel", account=account)
        seen = reader.next()
        assert (seen["task_id"], seen["task_status"]) == (first, "failed")
        other = idle_server.new_account(credits=100)
        mine = {first, second}
        create(idle_server, account=other, prompt="not yours")
        later = []
        with pytest.raises(queue.Empty):  # another account's task never shows here
            while True:
                later.append(reader.next(timeout=4))
        assert {t["task_id"] for t in later} <= mine
        # the second task moved up when the first left the line
        assert [t["queue_position"] for t in later if t["task_id"] == second][-1:] == [1]
    finally:
        reader.close()


def test_open_streams_are_bounded_per_account(idle_server):
    account = idle_server.new_account(credits=100)
    readers = [Reader(idle_server, "/v1/events", account=account) for _ in range(2)]
    try:
        for reader in readers:
            with pytest.raises(queue.Empty):  # open, quiet: no tasks yet
                reader.next(timeout=1)
        third = idle_server.request("GET", "/v1/events", account=account)
        assert third.status_code == 429
        assert third.json()["code"] == 1302
        assert "2 open event streams" in third.json()["message"]
        other = Reader(idle_server, "/v1/events", account=idle_server.new_account(credits=10))
        create(idle_server, account=other.account)
        assert other.next()["task_status"] == "submitted"  # another account is not held up
        other.close()
        readers.pop().close()  # a closed stream gives its slot back
        deadline = time.monotonic() + 20
        while True:
            with httpx.stream(
                "GET", idle_server.base_url + "/v1/events", headers=account.headers(), timeout=5
            ) as resp:
                if resp.status_code == 200:
                    break
            assert time.monotonic() < deadline, "the slot of a closed stream was not given back"
            time.sleep(0.3)
    finally:
        for reader in readers:
            reader.close()


def test_unknown_task_and_missing_key_are_refused_before_any_stream(idle_server):
    resp = idle_server.request("GET", "/v1/videos/text2video/404404404404404404/events")
    assert resp.status_code == 404 and resp.json()["code"] == 1203
    resp = idle_server.request("GET", "/v1/events", headers={})
    assert resp.status_code == 401 and resp.json()["code"] == 1001


def test_image2video_tasks_stream_at_their_own_door(busy_server):
    busy_server.engine.release()
    made = busy_server.request(
        "POST", "/v1/videos/image2video", json={"image": png_b64(400, 300), "prompt": "waves"}
    ).json()["data"]
    events = read_events(busy_server, f"/v1/videos/image2video/{made['task_id']}/events")
    assert {name for name, _ in events} == {"image2video"}
    assert events[-1][1]["task_status"] == "succeed"
    wrong = busy_server.request("GET", f"/v1/videos/text2video/{made['task_id']}/events")
    assert wrong.status_code == 404 and wrong.json()["code"] == 1203


def test_an_open_stream_ends_cleanly_when_the_server_stops(server_factory):
    server = server_factory(env={"OPENKLING_WORKERS": "0"})
    reader = Reader(server, "/v1/events")
    try:
        with pytest.raises(queue.Empty):
            reader.next(timeout=1)  # open and quiet
        server.stop()
        assert reader.next(timeout=20) is None  # ended by the server, not cut off
        assert "graceful shutdown exceeded" not in server.log()
    finally:
        reader.close()


def test_revoking_the_key_ends_its_open_streams(idle_server):
    account = idle_server.new_account(credits=100)
    create(idle_server, account=account)
    reader = Reader(idle_server, "/v1/events", account=account)
    try:
        assert reader.next()["task_status"] == "submitted"
        cli("keys", "revoke", account.access_key, data_dir=idle_server.data_dir)
        assert reader.next() is None  # ended by the server
        refused = idle_server.request("GET", "/v1/events", account=account)
        assert refused.status_code == 401
    finally:
        reader.close()
