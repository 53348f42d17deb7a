"""How a background loop (the callback sender, the retention sweeper, a lease renewer) reports
a part that keeps failing: one log line when it starts failing, a reminder every so often
while it goes on, one line when it recovers; and a wait that doubles while it fails, so an
outage is not retried (and logged) several times a second."""

from __future__ import annotations

import logging
import threading
import time

REMINDER_SECONDS = 60.0  # while failing, a reminder this often


class FailureState:
    """The failing / working state of one loop. Thread-safe; ``base`` is the loop's normal
    wait, ``most`` the longest wait while failing."""

    def __init__(
        self,
        what: str,
        log: logging.Logger,
        *,
        base: float = 0.5,
        most: float = 30.0,
        reminder: float = REMINDER_SECONDS,
    ) -> None:
        self.what = what
        self.log = log
        self.base = base
        self.most = most
        self.reminder = reminder
        self.failures = 0
        self._since = 0.0
        self._reminded = 0.0
        self._lock = threading.Lock()

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def failed(self, exc: BaseException) -> None:
        """Count a failure; log it when it is the first, or the reminder is due."""
        now = time.monotonic()
        with self._lock:
            self.failures += 1
            first = self.failures == 1
            if first:
                self._since = self._reminded = now
            due = not first and now - self._reminded >= self.reminder
            if due:
                self._reminded = now
            since = now - self._since
        if first:  # one line; the traceback only at debug level
            self.log.warning("%s failing: %s; retrying", self.what, _short(exc))
            self.log.debug("%s failure", self.what, exc_info=exc)
        elif due:
            self.log.warning(
                "%s still failing after %.0f s (%d attempts): %s",
                self.what,
                since,
                self.failures,
                _short(exc),
            )

    def succeeded(self) -> None:
        """Back to working: one line if it was failing."""
        with self._lock:
            failures, since = self.failures, time.monotonic() - self._since
            self.failures = 0
        if failures:
            self.log.warning(
                "%s recovered after %.0f s (%d failed attempts)", self.what, since, failures
            )

    def wait(self) -> float:
        """The wait before the next attempt: ``base`` while working, doubling while failing."""
        with self._lock:
            failures = self.failures
        if not failures:
            return self.base
        return min(self.base * 2 ** min(failures, 16), self.most)


def _short(exc: BaseException) -> str:
    """The exception's kind and first line, short."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
