"""Logging: plain or JSON lines, each tagged with the request, task, model and account in hand."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# What the current request or task is; every log record picks these up (see ContextFilter).
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)
model: contextvars.ContextVar[str | None] = contextvars.ContextVar("model", default=None)
account: contextvars.ContextVar[int | None] = contextvars.ContextVar("account", default=None)

FIELDS = ("request_id", "task_id", "model", "account")
_VARS: dict[str, contextvars.ContextVar[Any]] = {
    "request_id": request_id,
    "task_id": task_id,
    "model": model,
    "account": account,
}

# Credentials never reach a log line, whatever a message or a library put in it: secret keys,
# bearer tokens and JWTs, webhook secrets, S3 secrets, URL signatures.
_SECRETS = re.compile(
    r"(?P<keep>\bbearer\s+|\bsignature=|secret[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,]+"
    r"|\bsk[A-Za-z0-9]{40}\b"
    r"|\bwhsec_[A-Za-z0-9+/=]+"
    r"|\beyJ[\w-]+\.[\w-]+\.[\w-]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with every credential replaced by ``[redacted]``."""

    def sub(match: re.Match) -> str:
        return (match.group("keep") or "") + "[redacted]"

    return _SECRETS.sub(sub, text)


@contextmanager
def context(**fields: object) -> Iterator[None]:
    """Tag the log records made inside the block, e.g. ``context(task_id=..., model=...)``."""
    tokens = [(_VARS[name], _VARS[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Copies the context variables onto each record (``-`` when unknown, for plain lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _VARS.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:  # set by ContextFilter
            record.request_id = getattr(record, "task_id", None) or "-"
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the known context fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc_info"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str = "plain") -> None:
    """Root handler on stderr in ``fmt`` ("plain" or "json"); quiet Alembic."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
