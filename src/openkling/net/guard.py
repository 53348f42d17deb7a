"""The URL guard: every URL openkling fetches or calls is checked, then reached at that address.

Two moments, one set of rules:

* at create time, ``check_url`` refuses what can be judged from the text alone: schemes other
  than http(s), user@host, IP literals in any spelling (``127.1``, ``2130706433``,
  ``0x7f000001``, ``[::ffff:169.254.169.254]``...) in a non-public range, and cloud metadata
  names. Host names are not resolved then.
* at use, ``fetch`` and ``post`` resolve the host, refuse it if ANY of its addresses is
  non-public, and connect to the checked address itself (the URL's host goes in the ``Host``
  header and, for https, in TLS SNI, so the certificate is still verified against the name).
  No second lookup happens, so DNS rebinding cannot swap the address after the check.

``AllowList`` (``OPENKLING_URL_ALLOW``) admits named hosts and CIDRs despite the rules.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from ..errors import FetchFailed, InvalidParameter, OutboundError, URLRefused

__all__ = [
    "MAX_REDIRECTS",
    "MAX_URL",
    "NOTHING_ALLOWED",
    "AllowList",
    "Fetched",
    "FetchFailed",
    "OutboundError",
    "Resolver",
    "URLRefused",
    "blocked_reason",
    "check_url",
    "destination",
    "fetch",
    "post",
    "system_resolve",
]

MAX_URL = 2048
MAX_REDIRECTS = 3
MAX_ADDRESSES = 2  # addresses of one host tried in turn when a connection is refused
ALLOWED = "must be an http or https URL of a public host"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> IP address strings

# names that always lead to a cloud provider's instance metadata service
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    }
)


def _table(rows: tuple[tuple[str, str], ...]) -> tuple[tuple[Network, str], ...]:
    return tuple((ipaddress.ip_network(net), label) for net, label in rows)


# every range a URL may not reach, with the word used in messages; anything else that Python
# does not consider global is refused as "non-public" too
_V4_BLOCKED = _table(
    (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata)"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "reserved"),
        ("192.88.99.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "reserved"),
        ("203.0.113.0/24", "reserved"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_V6_BLOCKED = _table(
    (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "reserved"),  # IPv4-compatible, deprecated
        ("64:ff9b:1::/48", "private"),  # local-use NAT64
        ("100::/64", "reserved"),
        ("2001::/23", "reserved"),
        ("2001:db8::/32", "reserved"),
        ("3fff::/20", "reserved"),
        ("fc00::/7", "private"),  # unique local, fd00:ec2::254 (AWS metadata) among them
        ("fe80::/10", "link-local (cloud metadata)"),
        ("fec0::/10", "private"),  # site-local, deprecated
        ("ff00::/8", "multicast"),
    )
)
_V6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_NUMERIC = re.compile(r"[0-9a-fx.]+")  # what inet_aton might read as an IPv4 address


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4), which is where it leads."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why an address may not be reached ("loopback", "private", ...), or None if public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).split("%")[0])
        inner = _embedded_v4(address)
        if inner is not None:
            return blocked_reason(inner)
        table = _V6_BLOCKED
    else:
        table = _V4_BLOCKED
    for network, label in table:
        if address in network:
            return label
    if isinstance(address, ipaddress.IPv6Address) and address not in _V6_GLOBAL_UNICAST:
        return "reserved"
    if not address.is_global:
        return "non-public"
    return None


def _ip_literal(host: str) -> IPAddress | None:
    """The address a host string names, in any spelling the system resolver accepts."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC.fullmatch(host) and any(ch.isdigit() for ch in host):
        try:  # 127.1, 2130706433, 0x7f000001, 0177.0.0.1: getaddrinfo reads them all
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class AllowList:
    """Hosts and networks admitted despite the rules (``OPENKLING_URL_ALLOW``).

    Entries are host names (``hooks.internal``), wildcard names (``*.corp.example``), IP
    addresses or CIDRs (``127.0.0.1/32``, ``10.0.0.0/8``, ``::1``). A named host is admitted
    whatever it resolves to; an address is admitted when it lies in one of the networks.
    """

    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Read setting entries; raise ``ValueError`` naming an entry that is neither kind."""
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[Network] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = entry.removeprefix("*.")
            if "/" in entry or not _NAME.fullmatch(name) or _ip_literal(name) is not None:
                raise ValueError(f"{raw!r} is neither a host name nor an IP network (CIDR)")
            if entry.startswith("*."):
                suffixes.append("." + name)
            else:
                names.add(name)
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def admits_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or host.endswith(self.suffixes)

    def admits_address(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            v6 = address
            if v6.scope_id:
                v6 = ipaddress.IPv6Address(str(address).split("%")[0])
            inner = _embedded_v4(v6)
            candidates = [v6] if inner is None else [v6, inner]
        return any(
            a in net for a in candidates for net in self.networks if a.version == net.version
        )


NOTHING_ALLOWED = AllowList()  # the default: every rule applies


@dataclass(frozen=True)
class _Target:
    """A URL that passed the rules that need no lookup."""

    url: httpx.URL  # normalised, as given (the name, not the address)
    host: str  # ASCII, lower case, no brackets, no trailing dot
    port: int
    literal: IPAddress | None  # when the host is an IP address


def _shown(value: str, limit: int = 120) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _parse(value: object) -> _Target:
    """Parse with the same parser the client connects with; refuse anything ambiguous."""
    if not isinstance(value, str):
        raise URLRefused("must be an http or https URL string")
    if len(value) > MAX_URL:
        raise URLRefused(f"must be at most {MAX_URL} characters, got {len(value)}")
    bad_url = URLRefused(f"must be an http or https URL, got {_shown(value)}")
    if any(ch.isspace() or not ch.isprintable() or ch == "\\" for ch in value):
        raise bad_url
    try:
        split = urlsplit(value)
        split_host = split.hostname or ""
        split.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        raise bad_url from None
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        literal = _ip_literal(split_host)  # "0177.0.0.1": say where it leads, not just "bad"
        if literal is not None and blocked_reason(literal):
            raise URLRefused(_in_range(split_host, literal)) from None
        raise bad_url from None
    if url.scheme not in ("http", "https"):
        raise URLRefused(f"must be an http or https URL, got scheme {_shown(url.scheme)}")
    if url.userinfo or "@" in split.netloc:
        raise URLRefused("must not carry a user name or password (user@host)")
    raw_host = url.raw_host.decode("ascii", "replace").lower()
    if not raw_host:
        raise bad_url
    if url.port is not None and not 0 < url.port < 65536:
        raise URLRefused(f"port must be between 1 and 65535, got {url.port}")
    if url.host.lower() != split_host.lower():  # two parsers disagree: refuse, do not guess
        raise bad_url
    host = raw_host.rstrip(".")
    literal = _ip_literal(host)
    if literal is None and not _NAME.fullmatch(host):
        raise URLRefused(
            f"host {_shown(host)} is not a valid host name; "
            "must be letters, digits, hyphens and dots, or an IP address"
        )
    url = url.copy_with(raw_path=url.raw_path)  # "https://a.com" -> "https://a.com/"
    port = url.port or (443 if url.scheme == "https" else 80)
    return _Target(url=url, host=host, port=port, literal=literal)


def _in_range(host: str, address: IPAddress) -> str:
    """'2130706433 (127.0.0.1) is in the loopback range; must be ...'"""
    shown = address
    if isinstance(address, ipaddress.IPv6Address):
        shown = _embedded_v4(address) or address
    spelled = host if host in (str(address), str(shown)) else f"{host} ({shown})"
    return f"{spelled} is in the {blocked_reason(address)} range; {ALLOWED}"


def _judge(value: object, allow: AllowList) -> _Target:
    """The create-time rules: everything that can be decided without a lookup."""
    target = _parse(value)
    if target.literal is not None:
        if blocked_reason(target.literal) and not allow.admits_address(target.literal):
            raise URLRefused(_in_range(target.host, target.literal))
    elif target.host in METADATA_NAMES and not allow.admits_name(target.host):
        raise URLRefused(f"{target.host} is a cloud metadata host; {ALLOWED}")
    return target


def check_url(url: str, *, field: str, allow: AllowList) -> str:
    """Create-time check of a URL the server will later fetch or call; return it normalised.

    Raises ``InvalidParameter`` (1201) whose message names ``field`` and what is allowed.
    Host names are not resolved here: ``fetch`` and ``post`` check them at use.
    """
    try:
        return str(_judge(url, allow).url)
    except URLRefused as exc:
        raise InvalidParameter(f"{field}: {exc.message}") from None


def destination(url: str) -> str:
    """The origin (``scheme://host[:port]``) a URL is sent to, the key for per-destination
    limits; the URL itself when it does not parse. A URL from ``check_url`` starts with it
    followed by "/"."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii', 'replace')}"


# -- resolution ---------------------------------------------------------------------------------


def system_resolve(host: str, port: int) -> list[str]:
    """The system resolver (``/etc/hosts``, DNS): every address of ``host``, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _resolve(resolve: Resolver, host: str, port: int, timeout: float) -> list[IPAddress]:
    """Run the resolver with a time limit (a hung DNS server must not hang the caller)."""
    found: list[str] = []
    failed: list[Exception] = []

    def run() -> None:
        try:
            found.extend(resolve(host, port))
        except Exception as exc:  # reported below without its text
            failed.append(exc)

    thread = threading.Thread(target=run, name="resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise FetchFailed(f"{host} could not be resolved in time")
    if failed or not found:
        raise FetchFailed(f"{host} could not be resolved")
    unique: list[IPAddress] = []
    for text in found:
        try:
            address = ipaddress.ip_address(str(text).split("%")[0])
        except ValueError:
            raise FetchFailed(f"{host} could not be resolved") from None
        if address not in unique:
            unique.append(address)
    return unique


@dataclass(frozen=True)
class _Pinned:
    """A checked URL and the checked addresses to connect to, in order."""

    target: _Target
    addresses: tuple[IPAddress, ...]


def _pin(value: str, allow: AllowList, resolve: Resolver, timeout: float) -> _Pinned:
    target = _judge(value, allow)
    if target.literal is not None:
        return _Pinned(target, (target.literal,))
    addresses = _resolve(resolve, target.host, target.port, timeout)
    if not allow.admits_name(target.host):
        for address in addresses:
            reason = blocked_reason(address)
            if reason and not allow.admits_address(address):
                raise URLRefused(
                    f"{target.host} resolves to {address}, in the {reason} range; {ALLOWED}"
                )
    return _Pinned(target, tuple(addresses[:MAX_ADDRESSES]))


# -- the connection -----------------------------------------------------------------------------

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _shared_client() -> httpx.Client:
    """One client for every guarded request. No proxies from the environment (they would
    connect on our behalf, unchecked), no redirects, and no keep-alive: connections are keyed
    by address, and one verified for a name must never carry a request for another."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                trust_env=False,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
            )
        return _client


def _request(
    pinned: _Pinned,
    address: IPAddress,
    method: str,
    *,
    headers: Mapping[str, str],
    content: bytes | None,
    timeout: float,
    watchdog: _Watchdog | None = None,
) -> httpx.Request:
    target = pinned.target
    url = target.url.copy_with(host=str(address))
    netloc = target.url.netloc.decode("ascii")
    extensions: dict[str, object] = {
        "timeout": httpx.Timeout(timeout).as_dict(),
    }
    if watchdog is not None:
        extensions["trace"] = watchdog.trace
    if target.url.scheme == "https":
        extensions["sni_hostname"] = target.host  # the certificate is verified for the name
    request = _shared_client().build_request(
        method, url, headers={**headers, "Host": netloc}, content=content
    )
    request.extensions.update(extensions)
    return request


def _failure(exc: httpx.HTTPError, host: str, timeout: float) -> FetchFailed:
    """Translate an httpx error into a message for people, without Python's text."""
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchFailed(f"could not connect to {host} within {timeout:g} s")
    if isinstance(exc, httpx.TimeoutException):
        return FetchFailed(f"{host} did not answer within {timeout:g} s")
    if isinstance(exc, httpx.ConnectError):
        cause = exc.__cause__ or exc.__context__
        while cause is not None and not isinstance(cause, ssl.SSLError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            return FetchFailed(f"TLS with {host} failed (certificate not valid for the name?)")
        return FetchFailed(f"could not connect to {host}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return FetchFailed(f"{host} answered with malformed HTTP")
    return FetchFailed(f"the request to {host} failed")


def _send(
    pinned: _Pinned,
    method: str,
    *,
    headers: Mapping[str, str],
    content: bytes | None,
    timeout: float,
    watchdog: _Watchdog | None = None,
) -> httpx.Response:
    """Open a streamed response from the first checked address that accepts a connection."""
    client = _shared_client()
    last: httpx.HTTPError | None = None
    for address in pinned.addresses:
        request = _request(
            pinned,
            address,
            method,
            headers=headers,
            content=content,
            timeout=timeout,
            watchdog=watchdog,
        )
        try:
            return client.send(request, stream=True)
        except httpx.ConnectError as exc:  # nothing was sent: the next address may take it
            last = exc
        except httpx.HTTPError as exc:
            raise _failure(exc, pinned.target.host, timeout) from None
    assert last is not None
    raise _failure(last, pinned.target.host, timeout) from None


def post(
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout: float,
    allow: AllowList,
    resolve: Resolver = system_resolve,
) -> int:
    """POST ``content`` to a checked, pinned address and return the status code.

    Redirects are not followed (a 3xx is returned as is) and the response body is not read.
    Raises ``URLRefused`` or ``FetchFailed``.
    """
    pinned = _pin(url, allow, resolve, timeout)
    response = _send(pinned, "POST", headers=headers, content=content, timeout=timeout)
    response.close()
    return response.status_code


@dataclass(frozen=True)
class Fetched:
    """A fetched body: at most ``max_bytes``, of an accepted content type."""

    content: bytes
    content_type: str  # the media type, lower case, without parameters
    url: str  # the URL finally read, after redirects


_REDIRECTS = (301, 302, 303, 307, 308)


class _Watchdog:
    """Cuts a fetch's connection when its deadline passes, whatever it is waiting for: the
    connection is taken from httpcore's trace as soon as it is made, and shut down from a timer
    thread, which ends a blocking read at once (a per-read timeout would let a host that sends
    one byte a second go on for ever)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self.cut = False  # a connection was shut down by the timer
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(deadline - time.monotonic(), 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: Mapping[str, object]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        get_extra = getattr(stream, "get_extra_info", None)
        sock = get_extra("socket") if get_extra is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
            self.cut = self.cut or fired
        if fired:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
            self.cut = bool(sockets)
        for sock in sockets:
            _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


class _Late(FetchFailed):
    """The deadline passed between two steps of a fetch (told as ``fetch``'s message)."""


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    content_types: Iterable[str] = (),
    allow: AllowList,
    max_redirects: int = MAX_REDIRECTS,
    resolve: Resolver = system_resolve,
    deadline: float | None = None,
) -> Fetched:
    """GET a URL through the guard: every redirect hop is checked and pinned like the first.

    The body is streamed and refused past ``max_bytes``. ``timeout`` bounds the whole fetch on
    the clock (connecting, waiting and reading alike); ``deadline`` (``time.monotonic()``
    time), when given, is the moment it ends instead, shared by several fetches that have one
    budget of ``timeout`` seconds. ``content_types`` (media types such as ``image/png``;
    empty: any) is checked before the body is read. Compressed transfer encodings are not
    accepted, so ``max_bytes`` is what lands in memory. Raises ``URLRefused`` or
    ``FetchFailed``.
    """
    accepted = tuple(t.lower() for t in content_types)
    if deadline is None:
        deadline = time.monotonic() + timeout
    late = FetchFailed(f"the fetch took longer than {timeout:g} s")
    if deadline - time.monotonic() <= 0:
        raise late
    watchdog = _Watchdog(deadline)
    try:
        return _fetch(url, accepted, max_bytes, timeout, allow, max_redirects, resolve, watchdog)
    except OutboundError as exc:
        if watchdog.cut or isinstance(exc, _Late):
            raise late from None
        raise
    finally:
        watchdog.cancel()


def _fetch(
    url: str,
    accepted: tuple[str, ...],
    max_bytes: int,
    timeout: float,
    allow: AllowList,
    max_redirects: int,
    resolve: Resolver,
    watchdog: _Watchdog,
) -> Fetched:
    current = url
    for _hop in range(max_redirects + 1):
        if watchdog.fired:
            raise _Late("deadline")
        remaining = max(watchdog.deadline - time.monotonic(), 0.001)
        pinned = _pin(current, allow, resolve, remaining)
        host = pinned.target.host
        headers = {"Accept-Encoding": "identity", "Accept": ", ".join(accepted) or "*/*"}
        response = _send(
            pinned, "GET", headers=headers, content=None, timeout=remaining, watchdog=watchdog
        )
        try:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise FetchFailed(f"{host} redirected without a Location")
                current = urljoin(str(pinned.target.url), location)
                continue
            return _read_body(response, pinned, accepted, max_bytes, watchdog)
        except httpx.HTTPError as exc:
            raise _failure(exc, host, timeout) from None
        finally:
            response.close()
    raise FetchFailed(f"redirected more than {max_redirects} times")


def _read_body(
    response: httpx.Response,
    pinned: _Pinned,
    accepted: tuple[str, ...],
    max_bytes: int,
    watchdog: _Watchdog,
) -> Fetched:
    host = pinned.target.host
    if response.status_code != 200:
        raise FetchFailed(f"{host} answered HTTP {response.status_code}")
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if accepted and media_type not in accepted:
        raise FetchFailed(
            f"the file at {host} has content type {media_type or '(none)'}; "
            f"must be one of {', '.join(accepted)}"
        )
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchFailed(f"content encoding {encoding!r} is not accepted; send it uncompressed")
    declared = response.headers.get("content-length", "")
    too_big = FetchFailed(f"the file at {host} is larger than {max_bytes} bytes")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    body = bytearray()
    for chunk in response.iter_raw():
        body += chunk
        if len(body) > max_bytes:
            raise too_big
        if watchdog.fired:
            raise _Late("deadline")
    return Fetched(bytes(body), media_type, str(pinned.target.url))
