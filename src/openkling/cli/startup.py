"""How the long-running commands (`serve`, `worker`) fail at start: one line on stderr that
says what to do, a distinct exit code per cause, and the traceback only with ``--debug``.

Exit codes (docs/operations.md, "Exit codes"):

- 3: the data dir is in use by another live server;
- 4: the port cannot be listened on (in use, or not allowed);
- 5: no such account or key (`keys`, `credits`);
- 6: an optional extra is not installed (the line names the `pip install` to run);
- 7: the deployment profile or the configuration is invalid (the line names file and model).
"""

from __future__ import annotations

import errno
import socket
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

DATA_DIR_IN_USE = 3
CANNOT_LISTEN = 4
NOT_FOUND = 5
MISSING_EXTRA = 6
BAD_CONFIGURATION = 7

# top-level module -> the extra of pyproject.toml that installs it
EXTRA_OF_MODULE = {
    "celery": "scale",
    "kombu": "scale",
    "redis": "scale",
    "psycopg": "scale",
    "boto3": "scale",
    "botocore": "scale",
    "torch": "diffusers",
    "diffusers": "diffusers",
    "transformers": "diffusers",
    "accelerate": "diffusers",
    "sentencepiece": "diffusers",
    "ftfy": "diffusers",
    "torchsde": "diffusers",
    "scipy": "diffusers",
}


def fail(message: str, code: int, *, debug: bool = False) -> NoReturn:
    """Print ``error: message`` (one line) and exit with ``code``; with ``debug``, the
    traceback of the exception being handled comes first."""
    if debug and sys.exc_info()[0] is not None:
        traceback.print_exc()
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)


def missing_extra(exc: ModuleNotFoundError, what: str) -> str | None:
    """The line for a module an extra would install, or None (a real bug: let it raise)."""
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    return (
        f"{what} needs the {extra} extra ({module} is not installed): "
        f"pip install -e '.[{extra}]' (from the openkling checkout)"
    )


@contextmanager
def startup_errors(what: str, *, debug: bool = False) -> Iterator[None]:
    """Turn the start-up failures a user can fix into one line and a distinct exit code."""
    from pydantic import ValidationError

    from ..engines.profiles import ProfileError
    from ..errors import DataDirInUse

    try:
        yield
    except DataDirInUse as exc:
        fail(str(exc), DATA_DIR_IN_USE, debug=debug)
    except ProfileError as exc:
        fail(f"deployment profile: {exc}", BAD_CONFIGURATION, debug=debug)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        fail(f"configuration: {problems}", BAD_CONFIGURATION, debug=debug)
    except ModuleNotFoundError as exc:
        line = missing_extra(exc, what)
        if line is None:
            raise
        fail(line, MISSING_EXTRA, debug=debug)


def listen(host: str, port: int, *, debug: bool = False) -> socket.socket:
    """A listening socket on ``host:port``, made before anything else happens at start (no
    account is created and no key printed for a port another process holds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host in ("::", "::0"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            why = "address already in use: another process listens there; choose a free port"
        elif exc.errno in (errno.EACCES, errno.EPERM):
            why = "permission denied: ports below 1024 need privileges; choose another"
        elif exc.errno == errno.EADDRNOTAVAIL:
            why = "no such address on this machine; check --host"
        else:
            why = exc.strerror or "cannot bind"
        fail(
            f"cannot listen on {host}:{port}: {why} (--port, OPENKLING_PORT)",
            CANNOT_LISTEN,
            debug=debug,
        )
    sock.set_inheritable(True)
    return sock
