"""Loopback HTTP receivers for callbacks: ``Receiver`` keeps every callback (raw body and
headers; with a secret, it verifies Standard Webhooks signatures and refuses the rest with
400), and ``Sink`` counts every request of any kind (for "nothing reached it" checks)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

from .server import free_port


class _Loopback:
    """A threaded HTTP server on 127.0.0.1 serving ``handler``; ``port`` 0 takes a free one.
    With ``listen=False`` nothing listens until ``start()`` (a receiver that is down)."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], port: int = 0, listen: bool = True
    ) -> None:
        self._handler = handler
        self.port = port if port or listen else free_port()  # a URL before it listens
        self.server: ThreadingHTTPServer | None = None
        if listen:
            self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        if self.server is not None:
            return
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        self.port = self.server.server_address[1]
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    close = stop

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Receiver(_Loopback):
    """Keeps every callback POSTed to it, answering ``status`` (204).

    ``got``: (raw body, lower-cased headers) of each. With ``secret``, a callback whose
    signature does not verify is answered 400 and only counted (``rejected``); ``received``
    holds the verified payloads (all payloads without a secret), ``ids`` their webhook-ids.
    """

    def __init__(
        self, secret: str | None = None, port: int = 0, *, listen: bool = True, status: int = 204
    ) -> None:
        self.webhook = Webhook(secret) if secret else None
        self.got: list[tuple[bytes, dict[str, str]]] = []
        self.received: list[dict] = []
        self.ids: list[str] = []
        self.rejected = 0
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
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
                receiver.got.append((body, headers))
                receiver.ids.append(headers.get("webhook-id", ""))
                receiver.received.append(payload)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(Handler, port, listen)

    @property
    def statuses(self) -> list[tuple[str, str]]:
        """(task_id, task_status) of each Kling callback, in arrival order."""
        return [(p["task_id"], p["task_status"]) for p in self.received if "task_id" in p]

    def wait(
        self, match: Callable[[dict], bool], timeout: float = 60
    ) -> tuple[bytes, dict[str, str]]:
        """The first callback whose JSON payload ``match`` accepts: (raw body, headers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body, headers in list(self.got):
                if match(json.loads(body)):
                    return body, headers
            time.sleep(0.05)
        raise AssertionError(f"no matching callback; got {[b for b, _ in self.got]}")

    def wait_for(self, task_id: str, status: str, timeout: float = 60) -> list[dict]:
        """Every callback of ``task_id`` so far, once one says ``status``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mine = [p for p in self.received if p.get("task_id") == task_id]
            if any(p["task_status"] == status for p in mine):
                return mine
            time.sleep(0.05)
        raise AssertionError(f"no {status} callback for {task_id}; got {self.received}")


class Sink(_Loopback):
    """Answers 204 to every request of any kind and counts it (``hits``: "METHOD /path")."""

    def __init__(self, port: int = 0) -> None:
        self.hits: list[str] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                sink.hits.append(f"{self.command} {self.path}")
                self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(204)
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any  # noqa: N815

            def log_message(self, *args):
                pass

        super().__init__(Handler, port)
