"""The storage interface: put, read and delete files by key, make expiring URLs for them and
check the URLs it serves itself."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    name: str

    def put_file(self, key: str, src: Path, content_type: str) -> None:
        """Store ``src`` under ``key`` (overwrites; idempotent)."""
        ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (overwrites; idempotent)."""
        ...

    def read(self, key: str) -> bytes:
        """The bytes stored under ``key``; ``FileNotFoundError`` if there are none."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; no error if it is already gone."""
        ...

    def url(self, key: str, *, base_url: str, expires_in: int) -> str:
        """A URL that fetches ``key`` without credentials until ``expires_in`` seconds from now.

        ``base_url`` is the server's public root (``http://host:port``); storages that serve
        from elsewhere (S3) ignore it.
        """
        ...

    def verify(self, key: str, expires: str, signature: str) -> bool:
        """True when ``expires`` and ``signature`` (the query parameters of a URL made by
        ``url``, as sent) are a valid, unexpired signature of ``key``. Anything malformed is
        False, never an exception. Storages whose URLs are served elsewhere (S3) say False:
        the API's /media route serves nothing for them."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file holding ``key`` when the API serves it (/media), or None when there is
        none (no such file, a key outside the storage, a storage served elsewhere)."""
        ...

    def check(self) -> None:
        """Raise if the storage cannot be reached (for readiness probes)."""
        ...
