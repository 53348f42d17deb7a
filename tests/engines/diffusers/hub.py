"""A loopback stand-in for the model hub: the endpoints huggingface_hub's snapshot_download
calls (repo info, the file tree, file HEAD/GET with ranges), serving folders from disk."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

SHA = "0123456789abcdef0123456789abcdef01234567"


class Hub:
    """``Hub({"owner/name": folder})``: ``endpoint`` for HF_ENDPOINT; ``downloads`` lists the
    file GETs answered (path in the repo, Range header). A name put in ``cut`` has its next
    download cut off halfway (the connection closes), as a dropped network would."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = repos
        self.cut: set[str] = set()
        self.downloads: list[tuple[str, str | None]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.answer(self, body=False)

            def do_GET(self) -> None:
                hub.answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo: str) -> list[str]:
        root = self.repos[repo]
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def answer(self, h: BaseHTTPRequestHandler, *, body: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        for repo, root in self.repos.items():
            if path in (f"/api/models/{repo}/revision/main", f"/api/models/{repo}/revision/{SHA}"):
                siblings = [{"rfilename": f} for f in self.files(repo)]
                return self.json(h, {"id": repo, "sha": SHA, "siblings": siblings}, body)
            if path.startswith(f"/api/models/{repo}/tree/"):
                tree = [
                    {
                        "type": "file",
                        "path": f,
                        "size": (root / f).stat().st_size,
                        "oid": etag(root / f),
                    }
                    for f in self.files(repo)
                ]
                return self.json(h, tree, body)
            for rev in ("main", SHA):
                prefix = f"/{repo}/resolve/{rev}/"
                if path.startswith(prefix) and (root / path[len(prefix) :]).is_file():
                    return self.file(h, path[len(prefix) :], root / path[len(prefix) :], body)
        h.send_response(404)
        h.send_header("X-Error-Code", "EntryNotFound")
        h.send_header("Content-Length", "0")
        h.end_headers()

    def json(self, h: BaseHTTPRequestHandler, value: object, body: bool) -> None:
        data = json.dumps(value).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if body:
            h.wfile.write(data)

    def file(self, h: BaseHTTPRequestHandler, name: str, path: Path, body: bool) -> None:
        data = path.read_bytes()
        start = 0
        ranged = h.headers.get("Range")
        if body:
            self.downloads.append((name, ranged))
        if ranged and ranged.startswith("bytes="):
            start = int(ranged.removeprefix("bytes=").split("-")[0])
        h.send_response(206 if start else 200)
        h.send_header("X-Repo-Commit", SHA)
        h.send_header("ETag", f'"{etag(path)}"')
        h.send_header("Content-Length", str(len(data) - start))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if body and name in self.cut:
            self.cut.discard(name)
            h.wfile.write(data[start : start + (len(data) - start) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
        elif body:
            h.wfile.write(data[start:])


def etag(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()
