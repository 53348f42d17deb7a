"""The data-dir lock: one embedded server per data dir, and who held it before (now dead)."""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import DataDirInUse

LOCK_NAME = "openkling.lock"


@dataclass
class DataDirLock:
    """An exclusive ``flock`` on ``<data dir>/openkling.lock``, held for the process lifetime.

    The kernel drops it when the process dies, however it dies, so whoever takes it next
    knows that the last holder is gone: the tasks it was running (their lease owners start
    with ``previous_owner``) can be taken over at once instead of after their leases run out.
    """

    path: Path
    owner: str  # the lease-owner prefix of this process's in-process workers
    previous: dict | None  # what the last holder wrote (pid, owner, url), None on a first start
    _fd: int | None = None

    @property
    def previous_owner(self) -> str | None:
        return (self.previous or {}).get("owner")

    @classmethod
    def acquire(cls, data_dir: Path, *, url: str) -> DataDirLock:
        """Take the lock or raise ``DataDirInUse`` naming the live holder."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise DataDirInUse(_busy_message(data_dir, holder)) from None
        previous = _read(fd)
        owner = f"embedded-{uuid.uuid4().hex[:12]}"
        mine = {"pid": os.getpid(), "owner": owner, "url": url, "started_at": int(time.time())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(mine).encode(), 0)
        os.fsync(fd)
        return cls(path=path, owner=owner, previous=previous, _fd=fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def _read(fd: int) -> dict | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _busy_message(data_dir: Path, holder: dict | None) -> str:
    who = ""
    if holder:
        who = f" (pid {holder.get('pid')}, serving {holder.get('url')})"
    return (
        f"data dir {data_dir.resolve()} is in use by another openkling server{who}. "
        "One server with workers runs per data dir: stop that one, pass another --data-dir, "
        "or point clients at it (--base-url); more API hosts on the same store run with "
        "--no-worker."
    )
