"""Bodies and slow clients over raw sockets: an oversized body is refused while it streams in
(server memory stays flat), slow headers and slow bodies are closed, open connections are
capped. Every refusal is a Kling envelope."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from liveserver import LiveServer

ENV = {
    "OPENKLING_WORKERS": "0",
    "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
    "OPENKLING_HEADER_TIMEOUT_SECONDS": "2",
    "OPENKLING_BODY_TIMEOUT_SECONDS": "2",
}
PATH = "/v1/videos/text2video"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = LiveServer(data_dir=tmp_path_factory.mktemp("slow-clients"), env=ENV)
    server.start()
    yield server
    server.stop()


def rss_bytes(server: LiveServer) -> int:
    """The server process's resident memory, from /proc."""
    for line in open(f"/proc/{server.proc.pid}/status"):  # noqa: SIM115 - read whole at once
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc status")


def connect(server: LiveServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request_head(server: LiveServer, method: str, path: str, extra: dict[str, str]) -> bytes:
    headers = {"Host": f"127.0.0.1:{server.port}", **server.headers(), **extra}
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket, timeout: float = 30) -> tuple[int, dict, dict]:
    """One HTTP response (status, headers, JSON body) from a raw socket."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the response body"
        body += chunk
    return int(status_line.split()[1]), headers, json.loads(body[:length])


def closed_within(sock: socket.socket, seconds: float, trickle: bytes, every: float) -> tuple:
    """Send ``trickle`` one byte each ``every`` seconds until the server answers or closes,
    for at most ``seconds``. Returns (seconds it took, what the server sent) or fails."""
    start = time.monotonic()
    received = b""
    for byte in trickle:
        try:
            sock.sendall(bytes([byte]))
        except OSError:  # closed while we were sending
            return time.monotonic() - start, received
        sock.settimeout(every)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return time.monotonic() - start, received
                received += chunk
        except TimeoutError:
            pass
        except OSError:
            return time.monotonic() - start, received
        if time.monotonic() - start > seconds:
            break
    raise AssertionError(f"the server kept a trickling connection open for {seconds} s")


def assert_envelope(status: int, body: dict, want_status: int, want_code: int) -> str:
    assert status == want_status, body
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["code"] == want_code, body
    return body["message"]


def test_a_200_mb_chunked_body_is_refused_while_it_streams(server):
    """The limit applies as the bytes arrive: the server never holds the body, so its memory
    does not grow with it, and the client gets 400 / 1200."""
    httpx.get(server.base_url + "/healthz")  # warm
    before = peak = rss_bytes(server)
    sock = connect(server)
    sock.sendall(request_head(server, "POST", PATH, {"Transfer-Encoding": "chunked"}))
    chunk = b"a" * MB
    frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent, deadline = 0, time.monotonic() + 60  # bounded in size and in time
    try:
        while sent < 200 * MB and time.monotonic() < deadline:
            sock.sendall(frame)
            sent += MB
            if sent % (8 * MB) == 0:
                peak = max(peak, rss_bytes(server))
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # a server may close a connection that keeps sending; the answer is already here
    peak = max(peak, rss_bytes(server))
    status, headers, body = read_response(sock)
    sock.close()
    message = assert_envelope(status, body, 400, 1200)
    assert "larger than 65536 bytes" in message
    assert headers["x-request-id"] == body["request_id"]
    assert peak - before < 100 * MB, f"server RSS grew by {(peak - before) / MB:.0f} MB"
    assert sent >= 8 * MB  # the body really was streamed at it


@pytest.mark.parametrize("path", [PATH, "/account/costs", "/healthz"])
def test_a_declared_oversized_body_is_refused_before_it_is_sent(server, path):
    """Any endpoint: a Content-Length over the limit is answered at once, before the client
    sends a byte of the body."""
    sock = connect(server)
    sock.sendall(request_head(server, "POST", path, {"Content-Length": str(200 * MB)}))
    status, _, body = read_response(sock, timeout=10)
    sock.close()
    assert "larger than 65536 bytes" in assert_envelope(status, body, 400, 1200)


def test_a_body_trickled_byte_by_byte_is_closed(server):
    sock = connect(server)
    sock.sendall(request_head(server, "POST", PATH, {"Content-Length": "200"}))
    took, answer = closed_within(sock, 30, b'{"prompt": "' + b"a" * 180 + b'"}', every=3)
    sock.close()
    assert took < 30
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert "body did not arrive within 2 s" in assert_envelope(408, body, 408, 1200)


def test_slowloris_headers_are_closed(server):
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    took, answer = closed_within(sock, 30, b"X-Padding: " + b"a" * 100, every=1)
    sock.close()
    assert took < 30
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert "headers did not arrive within 2 s" in assert_envelope(408, body, 408, 1200)


def test_a_connection_that_sends_nothing_is_closed(server):
    sock = connect(server)
    sock.settimeout(30)
    start = time.monotonic()
    assert sock.recv(1024) == b""  # closed, with nothing to say
    assert time.monotonic() - start < 30
    sock.close()


def test_a_patient_keep_alive_client_is_not_cut_off(server):
    """The deadlines time a request's arrival, not the pauses between requests (uvicorn's
    keep-alive timeout, 5 s, rules those) nor the time a handler takes."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        first = http.get("/account/costs", headers=server.headers())
        time.sleep(3)  # longer than both deadlines, shorter than keep-alive
        second = http.get("/account/costs", headers=server.headers())
    assert first.status_code == second.status_code == 200


def test_open_connections_are_capped(tmp_path):
    env = {**ENV, "OPENKLING_MAX_CONNECTIONS": "4", "OPENKLING_HEADER_TIMEOUT_SECONDS": "60"}
    server = LiveServer(data_dir=tmp_path / "capped", env=env).start()
    idle = []
    try:
        idle = [connect(server) for _ in range(4)]
        time.sleep(0.5)  # the server has accepted them
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            refused = http.get("/account/costs", headers=server.headers())
            assert assert_envelope(refused.status_code, refused.json(), 503, 5001)
            assert refused.headers["retry-after"] and refused.headers["connection"] == "close"
        for sock in idle:
            sock.close()
        deadline = time.monotonic() + 10
        while True:  # the closes reach the server asynchronously
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                if http.get("/account/costs", headers=server.headers()).status_code == 200:
                    break
            assert time.monotonic() < deadline, "connections were not released"
            time.sleep(0.2)
    finally:
        for sock in idle:
            sock.close()
        server.stop()
