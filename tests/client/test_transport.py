"""The httpx boundary: no httpx exception leaks out, and downloads resume after a cut."""

from __future__ import annotations

import asyncio
import inspect

import httpx
import pytest

from openkling.client import (
    APIConnectionError,
    APITimeoutError,
    AsyncKling,
    Kling,
    KlingError,
    PermissionDeniedError,
    RetryPolicy,
)

from .conftest import NO_WAIT, closed_port_url

CDN_URL = "https://v15-kling.klingcdn.com/bs2/upload/784472349049966634-0.mp4?x-expires=1"
BLOB = bytes(range(256)) * 400  # 102400 bytes


def _sync_calls(client: Kling):
    t2v = client.text2video
    return {
        "create": lambda: t2v.create(prompt="x"),
        "get": lambda: t2v.get("776532119146856507"),
        "get_external": lambda: t2v.get(external_task_id="order-42"),
        "list": lambda: t2v.list(),
        "iter_all": lambda: list(t2v.iter_all()),
        "cancel": lambda: t2v.cancel("776532119146856507"),
        "wait": lambda: t2v.wait("776532119146856507", poll_interval=0),
        "create_and_wait": lambda: t2v.create_and_wait(prompt="x"),
        "download": lambda: t2v.download(CDN_URL),
        "download_id": lambda: t2v.download("776532119146856507"),
        "costs": lambda: client.account.costs(),
    }


def _async_calls(client: AsyncKling):
    t2v = client.text2video

    async def collect():
        return [t async for t in t2v.iter_all()]

    return {
        "create": lambda: t2v.create(prompt="x"),
        "get": lambda: t2v.get("776532119146856507"),
        "get_external": lambda: t2v.get(external_task_id="order-42"),
        "list": lambda: t2v.list(),
        "iter_all": collect,
        "cancel": lambda: t2v.cancel("776532119146856507"),
        "wait": lambda: t2v.wait("776532119146856507", poll_interval=0),
        "create_and_wait": lambda: t2v.create_and_wait(prompt="x"),
        "download": lambda: t2v.download(CDN_URL),
        "download_id": lambda: t2v.download("776532119146856507"),
        "costs": lambda: client.account.costs(),
    }


def test_no_httpx_exception_leaks_from_a_closed_port(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = closed_port_url()
    cdn = closed_port_url()
    with Kling(base_url=base, api_key="k", retry=NO_WAIT) as client:
        calls = _sync_calls(client)
        calls["download"] = lambda: client.text2video.download(cdn + "/v.mp4")
        assert set(calls) >= {n for n in dir(client.text2video) if not n.startswith("_")}
        for name, call in calls.items():
            with pytest.raises(KlingError) as info:
                call()
            assert isinstance(info.value, APIConnectionError), name
            assert not isinstance(info.value, httpx.HTTPError), name
            assert "127.0.0.1" in str(info.value), name


def test_no_httpx_exception_leaks_from_the_async_client(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = closed_port_url()

    async def main():
        failures = {}
        async with AsyncKling(base_url=base, api_key="k", retry=NO_WAIT) as client:
            calls = _async_calls(client)
            calls["download"] = lambda: client.text2video.download(base + "/v.mp4")
            public = {n for n in dir(client.text2video) if not n.startswith("_")}
            assert set(calls) >= public
            for name, call in calls.items():
                try:
                    result = call()
                    await result if inspect.isawaitable(result) else None
                except Exception as exc:  # collected and checked below
                    failures[name] = exc
        return calls, failures

    calls, failures = asyncio.run(main())
    assert set(failures) == set(calls)
    for name, exc in failures.items():
        assert isinstance(exc, APIConnectionError), (name, exc)
        assert not isinstance(exc, httpx.HTTPError), name


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx.ReadTimeout("read timed out"), APITimeoutError),
        (httpx.ConnectTimeout("connect timed out"), APITimeoutError),
        (httpx.RemoteProtocolError("peer closed connection"), APIConnectionError),
        (httpx.ReadError("connection reset by peer"), APIConnectionError),
    ],
)
def test_transport_failures_are_translated_and_retried_on_gets(raised, expected):
    attempts = []

    def handler(request):
        attempts.append(request.method)
        raise raised

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with Kling(base_url="http://h", api_key="k", retry=NO_WAIT, http_client=http) as client:
        with pytest.raises(expected):
            client.text2video.list()
        assert attempts == ["GET"] * 3
        attempts.clear()
        with pytest.raises(expected):
            client.text2video.create(prompt="x")
        assert attempts == ["POST"]


class CutStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that breaks off like a reset connection after ``data``."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self):
        yield self.data
        raise httpx.ReadError("connection reset by peer")

    async def __aiter__(self):
        yield self.data
        raise httpx.ReadError("connection reset by peer")


class FakeCDN:
    """A file host with HTTP Range support that can cut the first response short."""

    def __init__(self, *, cut_after: int | None = None, honour_range: bool = True) -> None:
        self.cut_after = cut_after
        self.honour_range = honour_range
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        total = len(BLOB)
        wanted = request.headers.get("range")
        if wanted and self.honour_range:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            if start >= total:
                return httpx.Response(416, headers={"content-range": f"bytes */{total}"})
            status, body = 206, BLOB[start:]
            headers = {"content-range": f"bytes {start}-{total - 1}/{total}"}
        else:
            status, body, headers = 200, BLOB, {}
        headers |= {"content-length": str(len(body)), "content-type": "video/mp4"}
        if self.cut_after is not None:
            cut, self.cut_after = self.cut_after, None
            return httpx.Response(status, headers=headers, stream=CutStream(body[:cut]))
        return httpx.Response(status, headers=headers, content=body)

    def client(self, **kwargs) -> Kling:
        kwargs.setdefault("retry", NO_WAIT)
        http = httpx.Client(transport=httpx.MockTransport(self.handler))
        return Kling(
            base_url="https://api-singapore.klingai.com", api_key="k", http_client=http, **kwargs
        )


def test_a_cut_download_resumes_where_it_stopped(tmp_path):
    cdn = FakeCDN(cut_after=30000)
    with cdn.client() as client:
        progress = []
        path = client.text2video.download(
            CDN_URL, tmp_path / "v.mp4", on_progress=lambda got, total: progress.append(got)
        )
    assert path == tmp_path / "v.mp4"
    assert path.read_bytes() == BLOB
    assert not (tmp_path / "v.mp4.part").exists()
    assert [r.headers.get("range") for r in cdn.requests] == [None, "bytes=30000-"]
    assert progress[0] == 30000 and progress[-1] == len(BLOB)
    # the signed CDN URL is fetched without our credentials
    assert all("authorization" not in r.headers for r in cdn.requests)


def test_a_failed_download_keeps_its_part_file_for_the_next_call(tmp_path):
    cdn = FakeCDN(cut_after=40000)
    with cdn.client(retry=RetryPolicy(max_retries=0)) as client:
        with pytest.raises(APIConnectionError):
            client.text2video.download(CDN_URL, tmp_path / "v.mp4")
        assert (tmp_path / "v.mp4.part").read_bytes() == BLOB[:40000]
        assert not (tmp_path / "v.mp4").exists()
        client.text2video.download(CDN_URL, tmp_path / "v.mp4")
    assert (tmp_path / "v.mp4").read_bytes() == BLOB
    assert cdn.requests[-1].headers["range"] == "bytes=40000-"


def test_a_server_that_ignores_range_gets_a_fresh_copy(tmp_path):
    (tmp_path / "v.mp4.part").write_bytes(b"stale bytes from some other file")
    cdn = FakeCDN(honour_range=False)
    with cdn.client() as client:
        client.text2video.download(CDN_URL, tmp_path / "v.mp4")
    assert (tmp_path / "v.mp4").read_bytes() == BLOB


def test_a_complete_part_file_is_only_renamed(tmp_path):
    (tmp_path / "v.mp4.part").write_bytes(BLOB)
    cdn = FakeCDN()
    with cdn.client() as client:
        client.text2video.download(CDN_URL, tmp_path / "v.mp4")
    assert (tmp_path / "v.mp4").read_bytes() == BLOB
    assert len(cdn.requests) == 1  # answered 416 with the full size


def test_an_expired_cdn_link_is_an_error_not_a_file(tmp_path):
    def handler(request):
        return httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>")

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with Kling(base_url="http://h", api_key="k", http_client=http) as client:
        with pytest.raises(PermissionDeniedError) as info:
            client.text2video.download(CDN_URL, tmp_path / "v.mp4")
    assert "AccessDenied" in info.value.message
    assert not (tmp_path / "v.mp4").exists()


def test_async_download_resumes_too(tmp_path):
    cdn = FakeCDN(cut_after=12345)

    async def main():
        http = httpx.AsyncClient(transport=httpx.MockTransport(cdn.handler))
        async with AsyncKling(
            base_url="http://h", api_key="k", retry=NO_WAIT, http_client=http
        ) as c:
            return await c.text2video.download(CDN_URL, tmp_path)

    path = asyncio.run(main())
    assert path == tmp_path / "784472349049966634-0.mp4"  # named after the URL
    assert path.read_bytes() == BLOB
    assert cdn.requests[-1].headers["range"] == "bytes=12345-"
