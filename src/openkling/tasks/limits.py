"""Per-account request rate limiting (a sliding window, per API process) and content policy."""

from __future__ import annotations

import re
import threading
import time
from collections import deque

from ..errors import PolicyRefused, RateLimited


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, account_id: int) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            window = self._hits.setdefault(account_id, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.per_minute:
                retry = 60 - (now - window[0])
                raise RateLimited(
                    f"rate limit of {self.per_minute} create requests per minute reached; "
                    f"retry in {retry:.0f} s"
                )
            window.append(now)


class ContentPolicy:
    def __init__(self, refused_terms: list[str]) -> None:
        terms = [t.strip().lower() for t in refused_terms if t.strip()]
        self._pattern = (
            re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")\b", re.IGNORECASE)
            if terms
            else None
        )

    def check(self, *texts: str) -> None:
        if self._pattern is None:
            return
        for text in texts:
            if text and self._pattern.search(text):
                raise PolicyRefused(
                    "prompt was refused by the content policy; rephrase it and try again"
                )
