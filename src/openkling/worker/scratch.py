"""Scratch folders of runs: named for their task and process, removed when either is done."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

SEP = "~"  # never in a task id, a host name or a pid


class Scratch:
    """``<root>/<task id>~<host>~<pid>~<random>``: one folder per run (encoder ``.part``
    files, covers). A run removes its own; what a killed process leaves is removed

    - when the task is claimed again (earlier attempts' folders of that task), and
    - at start, for folders of processes on this host that are no longer running.

    Folders of other hosts (a shared data dir) or of unknown shape go only once they are
    older than ``max_age`` seconds (no live run can be that old)."""

    def __init__(self, root: Path, *, max_age: float) -> None:
        self.root = root
        self.max_age = max_age
        self.host = socket.gethostname().replace(SEP, "-")

    def make(self, task_id: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        prefix = f"{task_id}{SEP}{self.host}{SEP}{os.getpid()}{SEP}"
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))

    def clear_task(self, task_id: str) -> int:
        """Remove the folders of the task's earlier runs: a new run holds its lease now, so
        they can only be leftovers (a lost run still writing there stops at its next step)."""
        return self._remove(lambda entry, parts: parts is not None and parts[0] == task_id)

    def clear_dead(self) -> int:
        """Remove folders whose process is known dead, and any too old to be in use."""
        cutoff = time.time() - self.max_age

        def dead(entry: Path, parts: tuple[str, str, int] | None) -> bool:
            if parts is not None and parts[1] == self.host and not _alive(parts[2]):
                return True
            try:
                return entry.stat().st_mtime < cutoff
            except FileNotFoundError:
                return False

        return self._remove(dead)

    def _remove(self, doomed) -> int:
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in self.root.iterdir():
            if entry.is_dir() and doomed(entry, _parse(entry.name)):
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        if removed:
            log.info("scratch: removed %d folder(s) left by earlier runs", removed)
        return removed


def _parse(name: str) -> tuple[str, str, int] | None:
    parts = name.split(SEP)
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True
