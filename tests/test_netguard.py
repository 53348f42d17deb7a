"""The URL guard: create-time spellings, resolution at use, the pinned connection, redirects,
size, type and time limits. Every refusal happens before a connection; the only traffic goes to
origins these tests run on 127.0.0.1."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from openkling.config import Settings
from openkling.errors import FetchFailed, InvalidParameter, URLRefused
from openkling.net import guard as netguard
from openkling.net.guard import NOTHING_ALLOWED, AllowList, check_url, fetch, post

LOOPBACK = AllowList.parse(["127.0.0.1/32"])
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class Origin:
    """An HTTP server on 127.0.0.1: ``routes`` maps a path to a handler(request) function."""

    def __init__(self, routes: dict[str, Callable[[BaseHTTPRequestHandler], None]]) -> None:
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Host header)
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                origin.requests.append((self.command, self.path, self.headers.get("Host", "")))
                length = int(self.headers.get("content-length") or 0)
                self.body = self.rfile.read(length) if length else b""
                route = routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route(self)

            do_GET = do_POST = _any  # noqa: N815 - http.server's names

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def origin():
    made: list[Origin] = []

    def make(routes: dict) -> Origin:
        made.append(Origin(routes))
        return made[-1]

    yield make
    for server in made:
        server.close()


def respond(status: int, body: bytes = b"", **headers: str) -> Callable:
    def handle(req: BaseHTTPRequestHandler) -> None:
        req.send_response(status)
        for name, value in headers.items():
            req.send_header(name.replace("_", "-"), value)
        if "Content_Length" not in headers:
            req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    return handle


def redirect(location: str, status: int = 302) -> Callable:
    """A redirect; "{port}" in the location becomes the origin's own port."""

    def handle(req: BaseHTTPRequestHandler) -> None:
        port = str(req.server.server_port)
        respond(status, Location=location.replace("{port}", port))(req)

    return handle


def resolver(table: dict[str, list[str]]):
    """A resolver for made-up names; records every lookup."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    resolve.calls = calls
    return resolve


# -- create time ------------------------------------------------------------------------------

# issue 13 item 1 and issue 9 item 5: every spelling, with the word the message must use
REFUSED = [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://127.0.0.1:8000/hook", "loopback"),
    ("HTTP://127.0.0.1/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://127.1/hook", "127.1 (127.0.0.1) is in the loopback range"),
    ("http://2130706433/hook", "2130706433 (127.0.0.1) is in the loopback range"),
    ("http://0x7f000001/hook", "0x7f000001 (127.0.0.1) is in the loopback range"),
    ("http://0177.0.0.1/hook", "0177.0.0.1 (127.0.0.1) is in the loopback range"),
    ("http://0x7f.1/hook", "loopback"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://0/hook", "unspecified"),
    ("http://[::]/hook", "unspecified"),
    ("http://user@127.0.0.1/hook", "user@host"),
    ("http://user:pw@example.com/hook", "user@host"),
    ("http://example.com@127.0.0.1/hook", "user@host"),
    ("http://169.254.169.254/latest/meta-data/", "link-local (cloud metadata)"),
    ("http://[::ffff:169.254.169.254]/", "(169.254.169.254) is in the link-local"),
    ("http://[::ffff:a9fe:a9fe]/", "link-local"),
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),
    ("http://[2002:7f00:1::]/", "loopback"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd00:ec2::254]/", "private"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "shared"),
    ("http://100.100.100.200/latest/meta-data/", "shared"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://198.18.0.1/", "reserved"),
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata host"),
    ("http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/", "cloud metadata host"),
    ("http://metadata.goog/", "cloud metadata host"),
    ("http://instance-data/latest/", "cloud metadata host"),
    ("file:///etc/passwd", "got scheme 'file'"),
    ("gopher://127.0.0.1:6379/_INFO", "got scheme 'gopher'"),
    ("ftp://example.com/x", "got scheme 'ftp'"),
    ("http://%31%32%37.0.0.1/", "not a valid host name"),
    ("http://127.0.0.1\\@example.com/", "http or https URL"),
    ("http:///hook", "http or https URL"),
    ("http://example.com:0/", "port must be between 1 and 65535"),
    ("http://example.com:99999/", "http or https URL"),
    ("http://example.com/a b", "http or https URL"),
    ("http://example.com/" + "a" * 2048, "at most 2048 characters"),
]


@pytest.mark.parametrize(("url", "words"), REFUSED, ids=[u[:60] for u, _ in REFUSED])
def test_create_time_refusals_name_the_field_and_what_is_allowed(url, words):
    with pytest.raises(InvalidParameter) as caught:
        check_url(url, field="callback_url", allow=NOTHING_ALLOWED)
    assert caught.value.code == 1201
    message = caught.value.message
    assert message.startswith("callback_url: ")
    assert words in message
    assert "must" in message  # says what is allowed
    assert "Error" not in message and "Traceback" not in message


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://hooks.example.com/kling?x=1", "https://hooks.example.com/kling?x=1"),
        ("HTTPS://Hooks.Example.COM", "https://hooks.example.com/"),
        ("http://8.8.8.8:8080/a", "http://8.8.8.8:8080/a"),
        ("http://[2606:4700:4700::1111]/a", "http://[2606:4700:4700::1111]/a"),
        ("http://[::ffff:8.8.8.8]/", "http://[::ffff:8.8.8.8]/"),
        ("https://münchen.example/hook", "https://xn--mnchen-3ya.example/hook"),
        ("http://localhost:8000/hook", "http://localhost:8000/hook"),  # a name: judged at use
    ],
)
def test_public_urls_and_names_pass_create_normalised(url, normalised, monkeypatch):
    def no_lookups(*args, **kwargs):
        raise AssertionError("names must not be resolved at create time")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookups)
    assert check_url(url, field="callback_url", allow=NOTHING_ALLOWED) == normalised


def test_allow_list_admits_named_hosts_and_networks():
    allow = AllowList.parse(["127.0.0.1/32", " Hooks.Internal. ", "*.corp.example", "fd00::/8"])
    assert check_url("http://127.0.0.1:9000/h", field="f", allow=allow)
    assert check_url("http://[::ffff:127.0.0.1]/h", field="f", allow=allow)  # same address
    assert check_url("http://[fd00::5]/h", field="f", allow=allow)
    assert allow.admits_name("hooks.internal") and allow.admits_name("a.b.corp.example")
    assert not allow.admits_name("corp.example") and not allow.admits_name("evil-corp.example")
    for still_refused in ("http://127.0.0.2/", "http://2130706434/", "http://10.0.0.1/"):
        with pytest.raises(InvalidParameter):
            check_url(still_refused, field="f", allow=allow)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not a host", "127.1", "http://x/", "*"])
def test_bad_allow_entries_stop_start_up(entry):
    with pytest.raises(ValueError, match="neither a host name nor an IP network"):
        AllowList.parse([entry])
    with pytest.raises(ValueError, match="url_allow"):
        Settings(url_allow=f"127.0.0.1/32,{entry}")


def test_allow_setting_reads_comma_separated_entries():
    settings = Settings(url_allow="127.0.0.1/32, localhost ,,*.corp.example")
    assert settings.url_allow == ["127.0.0.1/32", "localhost", "*.corp.example"]
    assert settings.url_allowlist.admits_name("localhost")
    assert Settings(url_allow="").url_allowlist == NOTHING_ALLOWED


# -- at use: resolution and the pinned connection ---------------------------------------------


def test_a_public_looking_name_that_resolves_to_loopback_is_refused_unsent(origin):
    receiver = origin({"/hook": respond(204)})
    resolve = resolver({"hooks.example.test": ["127.0.0.1"]})
    with pytest.raises(URLRefused) as caught:
        post(
            receiver.url("/hook", host="hooks.example.test"),
            content=b"{}",
            headers={},
            timeout=5,
            allow=NOTHING_ALLOWED,
            resolve=resolve,
        )
    assert "hooks.example.test resolves to 127.0.0.1, in the loopback range" in caught.value.message
    assert receiver.requests == []


def test_one_blocked_address_among_several_refuses_the_host(origin):
    receiver = origin({"/hook": respond(204)})
    # the first address is admitted, the second is private: the host is refused as a whole
    resolve = resolver({"hooks.example.test": ["127.0.0.1", "10.1.2.3"]})
    with pytest.raises(URLRefused, match="10.1.2.3, in the private range"):
        post(
            receiver.url("/hook", host="hooks.example.test"),
            content=b"{}",
            headers={},
            timeout=5,
            allow=LOOPBACK,
            resolve=resolve,
        )
    assert receiver.requests == []


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(origin, monkeypatch):
    receiver = origin({"/hook": respond(204)})
    answers = iter([["127.0.0.1"]])  # a second lookup would "rebind" to a private address
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers, ["10.0.0.7"])

    looked_up: list[str] = []
    real = socket.getaddrinfo

    def watch(host, *args, **kwargs):
        looked_up.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", watch)
    status = post(
        receiver.url("/hook?a=1", host="hooks.example.test"),
        content=b'{"x":1}',
        headers={"content-type": "application/json"},
        timeout=5,
        allow=LOOPBACK,
        resolve=rebinding,
    )
    assert status == 204
    assert calls == ["hooks.example.test"]  # resolved once, by the guard
    assert "hooks.example.test" not in looked_up  # the client connected to the address
    assert receiver.requests == [("POST", "/hook?a=1", f"hooks.example.test:{receiver.port}")]


def test_an_allowed_name_is_admitted_whatever_it_resolves_to(origin):
    receiver = origin({"/hook": respond(200)})
    resolve = resolver({"hooks.internal": ["127.0.0.1"]})
    allow = AllowList.parse(["hooks.internal"])
    url = receiver.url("/hook", host="hooks.internal")
    assert post(url, content=b"", headers={}, timeout=5, allow=allow, resolve=resolve) == 200
    assert receiver.paths() == ["/hook"]


def test_localhost_resolves_at_use_and_is_refused(origin):
    receiver = origin({"/hook": respond(204)})
    with pytest.raises(URLRefused, match="localhost resolves to 127.0.0.1"):
        post(receiver.url("/hook", host="localhost"), content=b"", headers={}, timeout=5,
             allow=NOTHING_ALLOWED)  # fmt: skip
    assert receiver.requests == []


def test_post_does_not_follow_redirects(origin):
    receiver = origin({"/hook": redirect("/elsewhere", 307), "/elsewhere": respond(204)})
    assert post(receiver.url("/hook"), content=b"", headers={}, timeout=5, allow=LOOPBACK) == 307
    assert receiver.paths() == ["/hook"]


def test_unresolvable_and_hanging_resolvers_fail_cleanly():
    with pytest.raises(FetchFailed, match="^nowhere.test could not be resolved$"):
        post("http://nowhere.test/", content=b"", headers={}, timeout=5, allow=NOTHING_ALLOWED,
             resolve=resolver({}))  # fmt: skip

    def hang(host, port):
        time.sleep(3)
        return ["127.0.0.1"]

    with pytest.raises(FetchFailed, match="^slow-dns.test could not be resolved in time$"):
        fetch("http://slow-dns.test/", max_bytes=10, timeout=0.2, allow=LOOPBACK, resolve=hang)


def test_connection_refused_is_a_clean_failure():
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()  # nothing listens there now
    with pytest.raises(FetchFailed) as caught:
        post(f"http://127.0.0.1:{number}/", content=b"", headers={}, timeout=5, allow=LOOPBACK)
    assert caught.value.message == "could not connect to 127.0.0.1"


def _self_signed(tmp_path, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_sends_the_name_in_sni_and_still_verifies_the_certificate(tmp_path):
    """Connecting to the address must not switch TLS verification off: the server sees the
    name in SNI, and an untrusted certificate is refused."""
    cert, key = _self_signed(tmp_path, "hooks.example.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        try:
            context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            pass  # the client rejects our certificate: expected
        finally:
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(FetchFailed) as caught:
            post(
                f"https://hooks.example.test:{port}/hook",
                content=b"{}",
                headers={},
                timeout=5,
                allow=LOOPBACK,
                resolve=resolver({"hooks.example.test": ["127.0.0.1"]}),
            )
    finally:
        listener.close()
    assert names == ["hooks.example.test"]
    assert caught.value.message.startswith("TLS with hooks.example.test failed")


# -- fetch --------------------------------------------------------------------------------------


def fetch_png(url: str, **kw) -> netguard.Fetched:
    options = {"max_bytes": 4096, "timeout": 5, "content_types": ["image/png"], "allow": LOOPBACK}
    return fetch(url, **{**options, **kw})


def test_fetch_reads_a_body_of_an_accepted_type(origin):
    files = origin({"/a.png": respond(200, PNG, Content_Type="image/png; charset=binary")})
    got = fetch_png(files.url("/a.png"))
    assert (got.content, got.content_type, got.url) == (PNG, "image/png", files.url("/a.png"))


def test_fetch_follows_redirects_checking_each_hop(origin):
    files = origin(
        {
            "/one": redirect("/two", 301),
            "/two": redirect("http://files.example.test:{port}/a.png"),
            "/a.png": respond(200, PNG, Content_Type="image/png"),
        }
    )
    resolve = resolver({"files.example.test": ["127.0.0.1"]})
    got = fetch_png(files.url("/one"), resolve=resolve)
    assert got.content == PNG and got.url == files.url("/a.png", host="files.example.test")
    assert files.paths() == ["/one", "/two", "/a.png"]
    assert resolve.calls == ["files.example.test"]


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("http://127.0.0.1:{port}/secret", "127.0.0.1 is in the loopback range"),
        ("http://10.0.0.1/secret", "10.0.0.1 is in the private range"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data/", "link-local"),
        ("http://2130706433:{port}/secret", "loopback"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata host"),
        ("http://internal.example.test:{port}/secret", "resolves to 127.0.0.1"),
        ("file:///etc/passwd", "scheme 'file'"),
    ],
)
def test_a_redirect_to_a_private_address_is_refused_before_it_is_followed(origin, location, words):
    files = origin({"/start": redirect(location), "/secret": respond(200, b"secret")})
    # the first host is admitted by name; nothing else is
    allow = AllowList.parse(["files.example.test"])
    resolve = resolver(
        {"files.example.test": ["127.0.0.1"], "internal.example.test": ["127.0.0.1"]}
    )
    with pytest.raises(URLRefused) as caught:
        fetch_png(files.url("/start", host="files.example.test"), allow=allow, resolve=resolve)
    assert words in caught.value.message
    assert files.paths() == ["/start"]  # /secret was never asked for


def test_too_many_redirects_fail(origin):
    files = origin({"/loop": redirect("/loop")})
    with pytest.raises(FetchFailed, match="redirected more than 3 times"):
        fetch_png(files.url("/loop"))
    assert files.paths() == ["/loop"] * 4


def test_fetch_refuses_file_urls_and_private_literals():
    for url in ("file:///etc/passwd", "http://169.254.169.254/latest/", "http://[::1]/"):
        with pytest.raises(URLRefused):
            fetch_png(url, allow=NOTHING_ALLOWED)


def test_declared_oversize_is_refused_before_reading(origin):
    files = origin({"/big.png": respond(200, PNG, Content_Type="image/png")})
    with pytest.raises(FetchFailed, match="larger than 100 bytes"):
        fetch_png(files.url("/big.png"), max_bytes=100)


def test_an_undeclared_endless_body_is_cut_at_the_cap(origin):
    sent = {"bytes": 0, "finished": False}

    def endless(req):
        req.send_response(200)
        req.send_header("Content-Type", "image/png")
        req.send_header("Connection", "close")
        req.end_headers()
        try:
            for _ in range(4096):  # 256 MB if nobody stops reading
                req.wfile.write(b"\0" * 65536)
                sent["bytes"] += 65536
            sent["finished"] = True
        except OSError:
            pass

    files = origin({"/endless.png": endless})
    with pytest.raises(FetchFailed, match="larger than 100000 bytes"):
        fetch_png(files.url("/endless.png"), max_bytes=100_000)
    deadline = time.monotonic() + 10
    while not sent["finished"] and time.monotonic() < deadline and sent["bytes"] < 2**28:
        before = sent["bytes"]
        time.sleep(0.2)
        if sent["bytes"] == before:
            break
    assert not sent["finished"]


@pytest.mark.parametrize("ctype", ["text/html", "image/svg+xml", ""])
def test_content_type_is_checked(origin, ctype):
    headers = {"Content_Type": ctype} if ctype else {}
    files = origin({"/x": respond(200, b"<svg/>", **headers)})
    with pytest.raises(FetchFailed) as caught:
        fetch_png(files.url("/x"), content_types=["image/png", "image/jpeg"])
    assert caught.value.message == (
        f"the file at 127.0.0.1 has content type {ctype or '(none)'}; "
        "must be one of image/png, image/jpeg"
    )


def test_compressed_bodies_are_refused(origin):
    files = origin({"/z.png": respond(200, b"\x1f\x8b", Content_Type="image/png",
                                      Content_Encoding="gzip")})  # fmt: skip
    with pytest.raises(FetchFailed, match="content encoding 'gzip' is not accepted"):
        fetch_png(files.url("/z.png"))


def test_an_error_status_fails(origin):
    files = origin({})
    with pytest.raises(FetchFailed, match="^127.0.0.1 answered HTTP 404$"):
        fetch_png(files.url("/missing.png"))


def test_a_trickled_body_is_cut_at_the_overall_timeout(origin):
    def trickle(req):
        req.send_response(200)
        req.send_header("Content-Type", "image/png")
        req.send_header("Content-Length", "1000")
        req.end_headers()
        try:
            for _ in range(1000):
                req.wfile.write(b"\0")
                req.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    files = origin({"/slow.png": trickle})
    with pytest.raises(FetchFailed, match="took longer than 0.5 s"):
        fetch_png(files.url("/slow.png"), max_bytes=4096, timeout=0.5)
