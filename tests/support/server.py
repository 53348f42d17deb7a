"""A real ``openkling serve`` process on a free loopback port, for the tests where the process
is the point (start-up, signals, kill and restart, the data-dir lock, the edge's socket
deadlines, TLS, the scaled layout, the browser). ``LiveServer`` and the in-process
``AppServer`` (``support.harness``) answer the same calls, so a test reads the same on both."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from openkling.config import Settings

from . import processes
from .accounts import Account, account_in, make_token

__all__ = [
    "FAST_ENV",
    "Account",
    "LiveServer",
    "Served",
    "cli",
    "cli_process",
    "free_port",
    "make_token",
]

# Small, fast defaults for every server a test starts; tests override per server.
FAST_ENV = {
    "OPENKLING_STD_SHORT_SIDE": "144",
    "OPENKLING_PRO_SHORT_SIDE": "180",
    "OPENKLING_X264_PRESET": "ultrafast",
    "OPENKLING_FPS": "12",  # half the frames to render and encode; durations are unchanged
    "OPENKLING_LEASE_SECONDS": "3",
    "OPENKLING_CALLBACK_BACKOFF_SECONDS": "0.2",
    "OPENKLING_CALLBACK_BACKOFF_MAX_SECONDS": "1",
    "OPENKLING_LOG_LEVEL": "INFO",
    # the tests' own callback receivers listen on loopback, which the URL guard refuses
    "OPENKLING_URL_ALLOW": "127.0.0.1/32",
}
TERMINAL = ("succeed", "failed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_from_env(env: dict[str, str], data_dir: Path, **overrides: Any) -> Settings:
    """The Settings a server started with ``env`` (``OPENKLING_*`` variables over FAST_ENV)
    would read, without touching this process's environment."""
    values: dict[str, Any] = {}
    for key, value in {**FAST_ENV, **env}.items():
        if key.startswith("OPENKLING_"):
            values[key.removeprefix("OPENKLING_").lower()] = value
    values["data_dir"] = data_dir
    values.update(overrides)
    return Settings(**values)


def cli(*args: str, data_dir: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``openkling ARGS`` (an administrative command: keys, credits, db, sweep) run in this
    process by click's test runner, answered as ``subprocess.run(..., check=True)`` would:
    a ``CompletedProcess``, or ``CalledProcessError`` with the output and the traceback an
    uncaught exception would print. ``cli_process`` runs the command in a process of its own.
    """
    import logging
    import traceback

    from click.testing import CliRunner

    from openkling.cli.main import main

    if args and args[0] in ("serve", "worker"):
        raise ValueError(f"`openkling {args[0]}` runs until stopped: use a server fixture")
    full_env = {**FAST_ENV, **(env or {}), "OPENKLING_DATA_DIR": str(data_dir)}
    for name in os.environ:  # the command sees the test's settings only, as a fresh process
        if name.startswith("OPENKLING_") and name not in full_env:
            full_env[name] = None  # type: ignore[assignment] - click unsets these
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        result = CliRunner().invoke(main, list(args), env=full_env, catch_exceptions=True)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    argv = [sys.executable, "-m", "openkling", *args]
    if result.exit_code != 0:
        raise subprocess.CalledProcessError(result.exit_code, argv, result.stdout, stderr)
    return subprocess.CompletedProcess(argv, 0, result.stdout, stderr)


def cli_process(*args: str, data_dir: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``openkling ARGS`` in a process of its own (where the process is the point)."""
    full_env = {**os.environ, **FAST_ENV, **(env or {}), "OPENKLING_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "openkling", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class PortTaken(RuntimeError):
    """The server's port was bound by someone else before the server bound it."""


class Served:
    """What every test server answers: its first account, signed requests, task polling.
    Needs ``base_url``, ``account``, ``_client()`` and ``log()``."""

    base_url: str
    account: Account | None
    data_dir: Path
    env: dict

    @property
    def access_key(self) -> str:
        return self.account.access_key

    @property
    def secret_key(self) -> str:
        return self.account.secret_key

    @property
    def webhook_secret(self) -> str:
        return self.account.webhook_secret

    def headers(self, **claims: Any) -> dict[str, str]:
        return self.account.headers(**claims)

    def _client(self) -> httpx.Client:
        raise NotImplementedError

    def log(self) -> str:
        raise NotImplementedError

    def request(self, method: str, path: str, *, json=None, headers=None, account=None, **kw):
        hdrs = (account or self.account).headers() if headers is None else headers
        return self._client().request(method, self.base_url + path, json=json, headers=hdrs, **kw)

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
            if data["task_status"] in TERMINAL:
                return data
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} did not finish in {timeout} s:\n{self.log()[-3000:]}")


@dataclass
class LiveServer(Served):
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

    def settings(self) -> Settings:
        return settings_from_env(self.env, self.data_dir)

    def new_account(
        self, credits: float = 1000, name: str = "", models: list[str] | None = None
    ) -> Account:
        """An account in this server's database, made through the task layer."""
        return account_in(self.settings(), credits=credits, name=name, models=models)

    def _client(self) -> httpx.Client:
        if getattr(self, "_http", None) is None:  # one keep-alive connection pool per server
            self._http = httpx.Client(timeout=30)
        return self._http

    def start(self) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.account is None:
            self.account = self.new_account()
        for _ in range(3):
            try:
                return self._start()
            except PortTaken:  # another test bound the free port first: take another
                self.port = free_port()
        return self._start()

    def _start(self) -> LiveServer:
        self.log_path = self.data_dir / f"{self.log_prefix}-{self.port}.log"
        full_env = {**os.environ, **FAST_ENV, **self.env, "OPENKLING_DATA_DIR": str(self.data_dir)}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = processes.spawn(
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
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                if "address already in use" in self.log().lower():
                    raise PortTaken(self.port)
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop(self.proc)
        if getattr(self, "_log", None):
            self._log.close()
        if getattr(self, "_http", None) is not None:
            self._http.close()
            self._http = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            processes.kill_group(self.proc)
            self.proc.wait(timeout=10)
