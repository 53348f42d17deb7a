"""The public root of every URL openkling hands out, and the host names its API answers for."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("", "0.0.0.0", "::")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")


def normalize(name: str) -> str | None:
    """A host name or IP literal in one canonical spelling (lower case, no brackets, no
    trailing dot), or None if it is not one."""
    name = name.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if len(name) > 253 or not _NAME.fullmatch(name):
        return None
    return name


@functools.lru_cache(maxsize=1024)  # every request's Host: parse each spelling once
def split_host(header: str) -> tuple[str, str] | None:
    """A Host header (``name``, ``name:port``, ``[v6]:port``) as (canonical name, port or ""),
    or None when it is malformed."""
    header = header.strip()
    if header.startswith("["):
        end = header.find("]")
        if end < 0:
            return None
        name, rest = header[: end + 1], header[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    else:
        name, sep, port = header.partition(":")
        if sep and not port:
            return None
    if port and not _PORT.fullmatch(port):
        return None
    canonical = normalize(name)
    return None if canonical is None else (canonical, port)


def host_of(header: str) -> str | None:
    """The canonical host name in a Host header, or None when the header is malformed."""
    parsed = split_host(header)
    return parsed[0] if parsed else None


@functools.lru_cache(maxsize=1024)  # a pure function of two short strings: parse each once
def root_of(scheme: str, header: str) -> str | None:
    """``scheme://host[:port]`` from a Host header, in canonical spelling."""
    parsed = split_host(header)
    if parsed is None:
        return None
    name, port = parsed
    netloc = f"[{name}]" if ":" in name else name
    return f"{scheme}://{netloc}:{port}" if port else f"{scheme}://{netloc}"


def allowed_names(
    bind: str, public_base_url: str | None, allowed_hosts: Iterable[str]
) -> frozenset[str]:
    """Host names the API answers for, besides the address each connection arrived on: the
    loopback names, the address it binds (unless a wildcard), the public URL's host and the
    ``allowed_hosts`` setting."""
    names = set(LOOPBACK_NAMES)
    if bind not in WILDCARD_BINDS:
        names.add(bind)
    if public_base_url:
        names.add(urlsplit(public_base_url).hostname or "")
    names.update(allowed_hosts)
    return frozenset(name for name in map(entry_name, names) if name)


def entry_name(entry: str) -> str | None:
    """An allowlist entry (a name or address, maybe with a port, which is not compared) in
    canonical spelling, or None."""
    return normalize(entry) or host_of(entry)
