"""Loopback HTTP receivers for callbacks: one that verifies Standard Webhooks signatures and
records each payload, and a sink that counts every request of any kind."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


class _Loopback:
    """A threaded HTTP server on 127.0.0.1 (``port`` 0: a free one) serving ``handler``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    stop = close

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Receiver(_Loopback):
    """Records every callback whose signature verifies with ``secret`` (``None``: records
    every JSON body unverified); answers ``status`` (204) to each."""

    def __init__(self, secret: str | None = None, port: int = 0, status: int = 204) -> None:
        self.webhook = Webhook(secret) if secret else None
        self.received: list[dict] = []
        self.ids: list[str] = []
        self.rejected = 0
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                try:
                    if receiver.webhook is not None:
                        payload = receiver.webhook.verify(body, dict(self.headers.items()))
                    else:
                        payload = json.loads(body)
                except Exception:
                    receiver.rejected += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                receiver.ids.append(self.headers.get("webhook-id", ""))
                receiver.received.append(payload)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(Handler, port)
        self.url = f"http://127.0.0.1:{self.port}/hook"

    @property
    def statuses(self) -> list[tuple[str, str]]:
        return [(p["task_id"], p["task_status"]) for p in self.received]

    def wait_for(self, task_id: str, status: str, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mine = [p for p in self.received if p["task_id"] == task_id]
            if any(p["task_status"] == status for p in mine):
                return mine
            time.sleep(0.05)
        raise AssertionError(f"no {status} callback for {task_id}; got {self.received}")


class Sink(_Loopback):
    """Counts every request of any kind that reaches it (``hits``: "METHOD /path")."""

    def __init__(self, port: int = 0) -> None:
        self.hits: list[str] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                sink.hits.append(f"{self.command} {self.path}")
                self.send_response(204)
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any  # noqa: N815

            def log_message(self, *args):
                pass

        super().__init__(Handler, port)
        self.url = f"http://127.0.0.1:{self.port}/hook"
