"""Real `openkling serve` processes on free loopback ports, and real accounts, for tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx
import jwt

# Small, fast defaults for every server a test starts; tests override per server.
FAST_ENV = {
    "OPENKLING_STD_SHORT_SIDE": "144",
    "OPENKLING_PRO_SHORT_SIDE": "180",
    "OPENKLING_X264_PRESET": "ultrafast",
    "OPENKLING_LEASE_SECONDS": "3",
    "OPENKLING_CALLBACK_BACKOFF_SECONDS": "0.2",
    "OPENKLING_CALLBACK_BACKOFF_MAX_SECONDS": "1",
    "OPENKLING_LOG_LEVEL": "INFO",
    # the tests' own callback receivers listen on loopback, which the URL guard refuses
    "OPENKLING_URL_ALLOW": "127.0.0.1/32",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_token(access_key: str, secret_key: str, **claims) -> str:
    now = int(time.time())
    payload = {"iss": access_key, "exp": now + 1800, "nbf": now - 5}
    payload.update(claims)
    return jwt.encode(payload, secret_key, algorithm="HS256", headers={"typ": "JWT"})


def cli(*args: str, data_dir: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **FAST_ENV, **(env or {}), "OPENKLING_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "openkling", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@dataclass
class Account:
    access_key: str
    secret_key: str
    webhook_secret: str
    credits: float

    def headers(self, **claims) -> dict[str, str]:
        token = make_token(self.access_key, self.secret_key, **claims)
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@dataclass
class LiveServer:
    """A real `openkling serve` process. ``request`` signs as the server's first account."""

    serve_args: ClassVar[tuple[str, ...]] = ()  # extra `serve` options (subclasses)
    log_prefix: ClassVar[str] = "server"

    data_dir: Path
    env: dict
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    account: Account | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_key(self) -> str:
        return self.account.access_key

    @property
    def secret_key(self) -> str:
        return self.account.secret_key

    @property
    def webhook_secret(self) -> str:
        return self.account.webhook_secret

    def new_account(self, credits: float = 1000, name: str = "") -> Account:
        out = cli(
            "keys",
            "create",
            "--json",
            "--credits",
            str(credits),
            "--name",
            name,
            data_dir=self.data_dir,
            env=self.env,
        )
        return Account(**json.loads(out.stdout))

    def headers(self, **claims) -> dict[str, str]:
        return self.account.headers(**claims)

    def request(self, method: str, path: str, *, json=None, headers=None, account=None, **kw):
        hdrs = (account or self.account).headers() if headers is None else headers
        if getattr(self, "_client", None) is None:  # one keep-alive connection pool per server
            self._client = httpx.Client(timeout=30)
        return self._client.request(method, self.base_url + path, json=json, headers=hdrs, **kw)

    def start(self) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.account is None:
            self.account = self.new_account()
        self.log_path = self.data_dir / f"{self.log_prefix}-{self.port}.log"
        full_env = {**os.environ, **FAST_ENV, **self.env, "OPENKLING_DATA_DIR": str(self.data_dir)}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "openkling",
                "serve",
                *self.serve_args,
                "--port",
                str(self.port),
            ],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()
        if getattr(self, "_client", None) is not None:
            self._client.close()
            self._client = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def wait_task(
        self,
        task_id: str,
        *,
        timeout: float = 120,
        account=None,
        path: str = "/v1/videos/text2video",
    ) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = self.request("GET", f"{path}/{task_id}", account=account)
            data = resp.json()["data"]
            if data["task_status"] in ("succeed", "failed"):
                return data
            time.sleep(0.2)
        raise AssertionError(f"task {task_id} did not finish in {timeout} s:\n{self.log()[-3000:]}")
