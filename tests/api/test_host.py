"""The Host header: URLs are built from OPENKLING_PUBLIC_BASE_URL or an allowed host; any other
Host gets 400 / 1200, and a forged Host never appears in a URL (responses or callbacks)."""

from __future__ import annotations

import socket
import subprocess

import httpx
import pytest

from support.harness import AppServer
from support.server import cli, free_port
from test_callbacks import Receiver

PATH = "/v1/videos/text2video"
FORGED = [
    "evil.example",
    "evil.example:80",
    "127.0.0.1.evil.example",
    "localhost.evil.example",
    "[::ffff:10.0.0.1]",
    "a b",
    "[::1",
    "localhost:port",
    "",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"OPENKLING_ALLOWED_HOSTS": "api.example.test, other.example.test:8443"}
    server = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("host"), env=env)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def done(server) -> str:
    """A finished task, so that responses carry URLs."""
    task_id = server.request("POST", PATH, json={"prompt": "a kite over a beach"}).json()["data"][
        "task_id"
    ]
    assert server.wait_task(task_id)["task_status"] == "succeed"
    return task_id


def get(server: AppServer, path: str, host: str | None, **kw) -> httpx.Response:
    headers = {**server.headers(), **({"Host": host} if host is not None else {})}
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        return http.get(path, headers=headers, **kw)


def urls_of(task: dict) -> list[str]:
    return [v[k] for v in task["task_result"]["videos"] for k in ("url", "cover_url") if v.get(k)]


@pytest.mark.parametrize("host", FORGED)
def test_a_foreign_host_gets_400_and_no_url(server, done, host):
    for path in (f"{PATH}/{done}", f"{PATH}?pageNum=1&pageSize=10", "/account/costs", "/healthz"):
        resp = get(server, path, host)
        assert resp.status_code == 400, (path, resp.text)
        body = resp.json()
        assert set(body) == {"code", "message", "request_id"} and body["code"] == 1200
        assert "Host" in body["message"]
        assert "evil" not in resp.text and "http" not in resp.text


def test_two_host_headers_are_refused(server, done):
    auth = server.headers()["Authorization"]
    request = (
        f"GET {PATH}/{done} HTTP/1.1\r\nHost: localhost:{server.port}\r\nHost: evil.example\r\n"
        f"Authorization: {auth}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b'"code":1200' in answer and b"evil" not in answer


@pytest.mark.parametrize(
    ("host", "root"),
    [
        (None, "http://127.0.0.1:{port}"),  # what httpx sends by itself
        ("localhost:{port}", "http://localhost:{port}"),
        ("LOCALHOST:{port}", "http://localhost:{port}"),
        ("[::1]:{port}", "http://[::1]:{port}"),
        ("api.example.test", "http://api.example.test"),
        ("other.example.test:8443", "http://other.example.test:8443"),
    ],
)
def test_an_allowed_host_is_the_root_of_the_urls(server, done, host, root):
    host = host.format(port=server.port) if host else None
    root = root.format(port=server.port)
    task = get(server, f"{PATH}/{done}", host).json()["data"]
    assert urls_of(task) and all(u.startswith(root + "/media/") for u in urls_of(task))
    listed = get(server, PATH, host, params={"pageSize": 5}).json()["data"]
    mine = [t for t in listed if t["task_id"] == done]
    assert mine and all(u.startswith(root + "/media/") for u in urls_of(mine[0]))


def test_the_urls_of_an_allowed_host_download(server, done):
    task = get(server, f"{PATH}/{done}", f"localhost:{server.port}").json()["data"]
    video = httpx.get(task["task_result"]["videos"][0]["url"], timeout=30)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"


def test_a_bad_allowed_hosts_entry_stops_start_up(tmp_path):
    with pytest.raises(subprocess.CalledProcessError) as failed:
        cli("db", "upgrade", data_dir=tmp_path, env={"OPENKLING_ALLOWED_HOSTS": "ok.example, a b"})
    stderr = failed.value.stderr
    assert "allowed_hosts" in stderr and "'a b' is not a host name" in stderr


def test_public_base_url_roots_every_url_whatever_the_host(tmp_path):
    server = AppServer(
        socket=True,
        data_dir=tmp_path / "public",
        env={"OPENKLING_PUBLIC_BASE_URL": "https://videos.example.com/"},
    ).start()
    receiver = Receiver(server.webhook_secret, free_port())
    receiver.start()
    try:
        body = {"prompt": "a red balloon", "callback_url": receiver.url}
        task_id = server.request("POST", PATH, json=body).json()["data"]["task_id"]
        server.wait_task(task_id)
        for host in (None, "localhost", "videos.example.com"):
            task = get(server, f"{PATH}/{task_id}", host).json()["data"]
            assert all(u.startswith("https://videos.example.com/media/") for u in urls_of(task))
        assert get(server, f"{PATH}/{task_id}", "evil.example").status_code == 400
        callback = receiver.wait_for(task_id, "succeed")[-1]
        assert all(u.startswith("https://videos.example.com/media/") for u in urls_of(callback))
    finally:
        server.stop()
        receiver.stop()
