"""Local storage: files in the data dir, served by the API at signed, expiring URLs."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import quote

_EXPIRES = re.compile(r"[0-9]{1,12}")  # ASCII digits, seconds since 1970: good to year 33658
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class LocalStorage:
    name = "local"

    def __init__(self, root: Path, signing_key: bytes) -> None:
        self.root = root
        self._key = signing_key

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key escapes the storage root: {key!r}")
        return path

    def put_file(self, key: str, src: Path, content_type: str) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        if path.parent.name and path.parent != self.root.resolve():
            try:  # an input folder goes with its last file
                path.parent.rmdir()
            except OSError:
                pass

    def signature(self, key: str, expires: int) -> str:
        return hmac.new(self._key, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, key: str, *, base_url: str, expires_in: int) -> str:
        expires = int(time.time()) + expires_in
        return (
            f"{base_url.rstrip('/')}/media/{quote(key)}"
            f"?expires={expires}&signature={self.signature(key, expires)}"
        )

    def verify(self, key: str, expires: str, signature: str) -> bool:
        if not _EXPIRES.fullmatch(expires) or not _SIGNATURE.fullmatch(signature):
            return False
        if int(expires) < time.time():
            return False
        return hmac.compare_digest(self.signature(key, int(expires)), signature)

    def local_path(self, key: str) -> Path | None:
        try:
            path = self.path(key)
        except ValueError:  # escapes the root, or holds a NUL byte
            return None
        return path if path.is_file() else None

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise RuntimeError(f"storage directory {self.root} is not writable")
        # a write probe: a full disk still passes the permission check above
        probe = self.root / f".probe-{os.getpid()}-{threading.get_ident()}"
        try:
            with open(probe, "wb") as f:
                f.write(b"\0" * 4096)
                f.flush()
                os.fsync(f.fileno())
        finally:
            probe.unlink(missing_ok=True)
