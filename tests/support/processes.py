"""Processes a test starts die with the test run: each child asks the kernel for SIGKILL when
its parent dies (``PR_SET_PDEATHSIG``), so even a pytest killed with SIGKILL leaves no server
behind; fixtures still stop their processes at teardown, and an ``atexit`` hook kills any
left running when pytest exits by itself."""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import threading
from typing import Any

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_children: set[subprocess.Popen] = set()
_parent_pid = os.getpid()


def _die_with_parent() -> None:  # runs in the child, between fork and exec
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _parent_pid:  # the parent died before prctl: go now
        os._exit(1)


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen`` in a session of its own (so ``kill_group`` reaches its children)
    that the kernel kills when this process dies."""
    global _parent_pid
    _parent_pid = os.getpid()
    # PDEATHSIG follows the thread that forked: a child of a short-lived thread would die with
    # that thread, so only children of the main thread ask for it (the atexit hook and the
    # fixtures still stop the others).
    main = threading.current_thread() is threading.main_thread()
    preexec = _die_with_parent if main else None
    proc = subprocess.Popen(args, start_new_session=True, preexec_fn=preexec, **kwargs)
    _children.add(proc)
    return proc


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal a process started by ``spawn`` and everything in its session."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL to the whole group if it has not exited in ``timeout`` s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.wait(timeout=10)
    _children.discard(proc)


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_children):
        if proc.poll() is None:
            kill_group(proc)
